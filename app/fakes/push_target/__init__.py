"""A minimal push target: a REST collection of "things" with idempotency keys, faults and truth."""
