"""The EPOS Now fake's data: companies and their transactions, seeded deterministically from the seed.

A transaction is an immutable Txn (a named tuple, so a few hundred thousand stay small); money is integer
cents and only becomes a 2-dp number when rendered. DateTimes are the company's local wall-clock times as
"YYYY-MM-DDTHH:MM:SS" text, which sorts chronologically, so a window is two bisects.

Seeding: `days` trading days ending at `end_date`; a trading day D runs from D 03:00 to D+1 03:00 local, so
about 10% of a day's sales fall between 00:00 and 02:59 of the next calendar date. Local times that do not
exist (the hour skipped when summer time starts) are never generated: a real till cannot record them.
"""
import datetime as dt
import random
from typing import NamedTuple
from zoneinfo import ZoneInfo

# Ids are unique across the fake: company n owns the block n * ID_BLOCK + 1 ...
ID_BLOCK = 10_000_000
CUTOFF_HOUR = 3
LATE_SHARE, VOID_SHARE, REFUND_SHARE = 0.10, 0.03, 0.03
COMPLETE, VOID = 1, 2
TENDER_NAMES = {1: "Cash", 2: "Card", 3: "Voucher"}
CASH, CARD, VOUCHER = 1, 2, 3
# (ProductId, ProductName, UnitPrice in cents)
PRODUCTS = ((101, "Espresso", 250), (102, "Flat White", 340), (103, "Cappuccino", 330), (104, "Latte", 350),
            (105, "Pot of Tea", 220), (106, "Croissant", 280), (107, "Pain au Chocolat", 310),
            (108, "Club Sandwich", 595), (109, "Soup of the Day", 475), (110, "Niçoise Salad", 650),
            (111, "Cake Slice", 395), (112, "Brownie", 325), (113, "Orange Juice", 300),
            (114, "Sparkling Water", 200), (115, "Pint of Lager", 550), (116, "Glass of Wine", 675),
            (117, "Cocktail", 895), (118, "Nachos", 725), (119, "Burger", 1295), (120, "Fries", 395))
OPEN_ITEM = (900, "Open Item")
QUANTITIES = (1, 1, 1, 1, 2, 2, 3)


class Company(NamedTuple):
    key: str
    number: int
    name: str
    api_key: str
    secret: str


class Item(NamedTuple):
    product_id: int
    name: str
    quantity: int
    unit: int   # cents
    total: int  # cents


class Txn(NamedTuple):
    when: str       # local "YYYY-MM-DDTHH:MM:SS"
    id: int
    status: int     # COMPLETE | VOID
    kind: str       # "Sale" | "Refund"
    total: int      # cents, always positive
    device: int
    staff: int
    items: tuple    # of Item
    tenders: tuple  # of (TenderTypeId, cents)


class Seeding(NamedTuple):
    """What the seeded data is made from (the command line's --days, --per-day, --seed, ...)."""
    days: int
    per_day: int
    seed: int
    timezone: ZoneInfo
    end_date: dt.date


def company(number):
    key = f"co{number:02d}"
    return Company(key, number, f"Café Nord {number:02d}", f"key-{key}", f"secret-{key}")


def default_end_date():
    """Yesterday, UTC: the last full trading day a fresh demo has."""
    return dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)


def local_text(moment):
    """The canonical DateTime text; fractions of a second only when there are some (they still sort right)."""
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


def exists_locally(moment, tz):
    """False for a wall-clock time the summer-time jump skips (01:30 on the last Sunday of March in London)."""
    back = moment.replace(tzinfo=tz).astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None)
    return back == moment


# ---------------------------------------------------------------------------------- seeding
def seed_company(number, seeding):
    """Every seeded transaction of company `number`, ordered by (DateTime, Id); the same for the same seed."""
    first = seeding.end_date - dt.timedelta(days=seeding.days - 1)
    records, seq = [], 0
    for offset in range(seeding.days):
        day = first + dt.timedelta(days=offset)
        rng = random.Random(f"epos:{seeding.seed}:{number}:{day.isoformat()}")
        count = round(seeding.per_day * rng.uniform(0.8, 1.2))
        for moment in sorted(_moment(rng, day, seeding.timezone) for _ in range(count)):
            seq += 1
            records.append(_seeded_txn(rng, number, number * ID_BLOCK + seq, local_text(moment)))
    return records


def _moment(rng, day, tz):
    """A sale time of trading day `day`: mostly 08:00-23:59, sometimes after midnight before the cutoff."""
    while True:
        if rng.random() < LATE_SHARE:
            start, seconds = day + dt.timedelta(days=1), rng.randrange(CUTOFF_HOUR * 3600)
        else:
            start, seconds = day, rng.randrange(8 * 3600, 24 * 3600)
        moment = dt.datetime.combine(start, dt.time()) + dt.timedelta(seconds=seconds)
        if exists_locally(moment, tz):
            return moment


def _seeded_txn(rng, number, txn_id, when):
    status = VOID if rng.random() < VOID_SHARE else COMPLETE
    kind = "Refund" if rng.random() < REFUND_SHARE else "Sale"
    items = []
    for product_id, name, unit in rng.sample(PRODUCTS, rng.randint(1, 5)):
        quantity = rng.choice(QUANTITIES)
        items.append(Item(product_id, name, quantity, unit, quantity * unit))
    total = sum(item.total for item in items)
    return Txn(when, txn_id, status, kind, total, _device(rng, number), _staff(rng, number), tuple(items),
               _tenders(rng, total))


def _device(rng, number):
    return number * 100 + rng.randint(1, 3)


def _staff(rng, number):
    return number * 100 + rng.randint(11, 16)


def _tenders(rng, total):
    """Card, cash or a voucher for the whole amount, or now and then card plus some cash."""
    roll = rng.random()
    if roll < 0.05 and total >= 2:
        cash = rng.randint(1, total - 1)
        return ((CARD, total - cash), (CASH, cash))
    kind = CARD if roll < 0.60 else CASH if roll < 0.95 else VOUCHER
    return ((kind, total),)


def added_txn(number, txn_id, when, total, kind, status):
    """A transaction a test added: open items and one card tender that add up to its amount exactly."""
    rng = random.Random(f"epos-added:{txn_id}")
    cuts = sorted(rng.sample(range(1, total), min(rng.randint(0, 2), total - 1))) if total > 1 else []
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
    items = tuple(Item(OPEN_ITEM[0], OPEN_ITEM[1], 1, part, part) for part in parts)
    return Txn(when, txn_id, status, kind, total, _device(rng, number), _staff(rng, number), items,
               ((CARD, total),))


# ---------------------------------------------------------------------------------- rendering
def money(cents):
    return round(cents / 100, 2)


def render(txn):
    """The transaction as EPOS Now's v4 API answers it."""
    return {"Id": txn.id, "DateTime": txn.when, "StatusId": txn.status, "TransactionType": txn.kind,
            "TotalAmount": money(txn.total), "DeviceId": txn.device, "StaffId": txn.staff,
            "TransactionItems": [{"ProductId": i.product_id, "ProductName": i.name, "Quantity": i.quantity,
                                  "UnitPrice": money(i.unit), "TotalPrice": money(i.total)} for i in txn.items],
            "Tenders": [{"TenderTypeId": kind, "TenderTypeName": TENDER_NAMES[kind], "Amount": money(cents)}
                        for kind, cents in txn.tenders]}
