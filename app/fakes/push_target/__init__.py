"""A minimal push target: a REST collection of "things" that keeps each create's client key (findable, never
deduplicated: creating twice makes two), with faults (422, 500 from the k-th write, a lost answer, latency) and
its own truth at /__fake/truth."""
