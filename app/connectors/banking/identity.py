"""A statement line's identity: the same booking imported twice (or from two formats) is one line,
while two real same-day bookings of the same amount stay two.

The bank's own id of the entry decides when the file carries one (MT940's bank reference and
CAMT's AcctSvcrRef are the same id; OFX's FITID is the bank's too), then the payer's end-to-end id.
Without either, the line is the n-th booking of that amount and reference on that day of that
account: an overlapping statement holds the whole day again, so it counts the same n.
"""
import hashlib
from collections import Counter

NOT_PROVIDED = {"", "NOTPROVIDED", "NONREF"}


def normalise_account(account):
    return "".join(str(account or "").split()).upper()


def _clean(text):
    return " ".join(str(text or "").split()).upper()


def identity_parts(account, line, seen):
    """The parts hashed into the line's identity; `seen` counts same-looking lines of a day."""
    bank_id = _clean(line.bank_reference) or _clean(line.fitid)
    if bank_id not in NOT_PROVIDED:
        return (account, "bank", bank_id)
    e2e = _clean(line.end_to_end_id)
    if e2e not in NOT_PROVIDED:
        return (account, "e2e", e2e, f"{line.amount:.2f}", line.booking_date.isoformat())
    day_key = (account, "day", line.booking_date.isoformat(), f"{line.amount:.2f}",
               _clean(line.reference) or _clean(line.remittance))
    seen[day_key] += 1
    return (*day_key, str(seen[day_key]))


def identities(account, lines):
    """The identity (hex SHA-256) of each line, in order."""
    seen, out = Counter(), []
    for line in lines:
        parts = identity_parts(account, line, seen)
        out.append(hashlib.sha256("\x1f".join(parts).encode()).hexdigest())
    return out


def provider_payment_id(identity):
    """What UISP stores as the payment's providerPaymentId: short, stable, ours."""
    return f"syncdeck-{identity[:32]}"
