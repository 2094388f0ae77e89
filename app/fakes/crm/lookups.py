"""The CRM's read-only lookup lists (the same in every fake), and the id sets the validation checks against."""

FUNNELS = [
    {"id": 1, "title": "Membership sales",
     "levels": [{"id": 11, "title": "Lead"}, {"id": 12, "title": "Negotiation"}, {"id": 13, "title": "Won"}]},
    {"id": 2, "title": "Personal training", "levels": [{"id": 21, "title": "Lead"}, {"id": 22, "title": "Won"}]},
]
BANK_ACCOUNTS = [{"id": 101, "title": "Cash box"}, {"id": 102, "title": "Mellat current account"},
                 {"id": 103, "title": "Cheques in hand"}, {"id": 104, "title": "Card terminal"}]
ORGANIZATIONS = [{"id": 201, "title": "Head office"}, {"id": 202, "title": "Branch North"},
                 {"id": 203, "title": "Branch West"}]
GENDERS = [{"id": 1, "title": "Male"}, {"id": 2, "title": "Female"}]
PRODUCT_TYPES = {1: "goods", 2: "service"}

# GET /api/<name> answers these lists as they are.
LOOKUPS = {"funnels": FUNNELS, "bank-accounts": BANK_ACCOUNTS, "organizations": ORGANIZATIONS, "genders": GENDERS}


def ids(rows):
    return frozenset(row["id"] for row in rows)


FUNNEL_LEVELS = {funnel["id"]: ids(funnel["levels"]) for funnel in FUNNELS}
