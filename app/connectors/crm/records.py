"""Source rows become the records the bridge pushes: what the CRM is sent, with every dependency resolved.

A record carries the CRM ids of what it needs (its contact, its products, its bank account) and,
when one is not synced, the reason in `missing`. Its version (base/push.py) is the hash of all of
it, so an invoice skipped for want of its contact is sent by itself once the contact is synced,
and a contact is updated when its mapped gender changes: nobody has to press Retry for that.
"""
from dataclasses import dataclass, field

from sqlalchemy import select

from ...extensions import db
from ..base.push_models import SyncRecord
from .models import CrmDealTrigger, CrmDuplicate, CrmMapping, CrmMinimumId

CONNECTOR = "crm"
# Mapping kinds: what they translate, and where Load & Discover finds the source values.
MAPPING_KINDS = {
    "gender": ("Gender", "membership", "gender"),
    "organization": ("Organization", "membership", "organizationId"),
    "bank_account": ("Bank account by payment method", "receipt", "modeldaryaft"),
    "product_type": ("Product type by service type", "service", "serviceType"),
}


@dataclass
class RunFacts:
    """What one run reads once from our database: mappings, deal triggers, minimum ids, duplicates."""

    mappings: dict = field(default_factory=dict)
    deals: dict = field(default_factory=dict)
    min_ids: dict = field(default_factory=dict)
    duplicates: dict = field(default_factory=dict)

    @classmethod
    def load(cls):
        facts = cls()
        for m in db.session.scalars(select(CrmMapping).where(CrmMapping.target_value != "")):
            facts.mappings.setdefault(m.kind, {})[m.source_value] = m.target_value
        facts.deals = {t.service_id: (t.funnel_id, t.funnel_level_id) for t in db.session.scalars(select(CrmDealTrigger))}
        facts.min_ids = {m.table_name: m.min_id for m in db.session.scalars(select(CrmMinimumId))}
        facts.duplicates = {d.person_id: (d.winner_id, d.reason) for d in db.session.scalars(select(CrmDuplicate))}
        db.session.rollback()
        return facts

    def mapped(self, kind, value, cast=int):
        target = self.mappings.get(kind, {}).get(_text(value))
        return cast(target) if target not in (None, "") else None

    def winner(self, person):
        """The person whose contact stands for `person` (itself unless it was found a duplicate)."""
        seen = set()
        while person in self.duplicates and person not in seen:
            seen.add(person)
            person = self.duplicates[person][0]
        return person


def _text(value):
    return "" if value is None else str(value)


def _money(value):
    return int(value or 0)


def _day(value):
    return value.isoformat()[:10] if value is not None else None


def ledger_of(stream, keys, chunk=5000):
    """{source key: (status, target id, message)} of these keys' ledger rows in one of our streams."""
    keys, found = sorted({str(k) for k in keys}), {}
    for start in range(0, len(keys), chunk):
        rows = db.session.execute(select(SyncRecord.source_key, SyncRecord.status, SyncRecord.target_id,
                                         SyncRecord.message)
                                  .where(SyncRecord.connector == CONNECTOR, SyncRecord.stream == stream,
                                         SyncRecord.source_key.in_(keys[start:start + chunk]))).all()
        found.update({key: (status, target, message) for key, status, target, message in rows})
    db.session.rollback()
    return found


def _unsynced(what, ledger_row):
    if ledger_row is None:
        return f"{what} is not synced (never sent)"
    status, _target, message = ledger_row
    return f"{what} is not synced ({status}{': ' + message if message else ''})"[:600]


# --- contacts and products ---------------------------------------------------------------

def contact_record(row, facts):
    person = row["personVId"]
    duplicate = facts.duplicates.get(person)
    return {
        "key": person,
        "duplicate": duplicate[1] if duplicate else "",
        "body": {
            "firstName": row["firstName"] or "", "lastName": row["lastName"] or "",
            "mobile": (row["mobile"] or "").strip() or None, "nationalCode": (row["CodeMelli"] or "").strip() or None,
            "gender": facts.mapped("gender", row["gender"]),
            "organizationId": facts.mapped("organization", row["organizationId"]),
            "email": row["email"], "birthDate": _day(row["birthDate"]),
            "customFields": {"membershipCode": row["membershipCode"], "jobTitle": row["jobTitle"],
                             "personVId": person, "memberIDD": row["IDD"]},
        },
    }


def product_record(row, facts):
    service_type = row["serviceType"]
    return {
        "key": row["IDD"], "category": (row["serviceGroup"] or "Uncategorised").strip(),
        "body": {"title": row["title"] or f"Service {row['IDD']}", "code": str(row["IDD"]), "price": _money(row["price"]),
                 "type": facts.mapped("product_type", service_type) or service_type},
    }


# --- invoices and receipts: their contact and products must be synced ---------------------

class Resolver:
    """Finds the CRM ids of a chunk's contacts and products in two ledger queries, not one per record."""

    def __init__(self, facts, persons=(), services=()):
        self.facts = facts
        self.contacts = ledger_of("contacts", {facts.winner(p) for p in persons})
        self.products = ledger_of("products", set(services))

    def contact(self, person, missing):
        winner = self.facts.winner(person)
        row = self.contacts.get(str(winner))
        if row and row[0] == "synced" and row[1]:
            return int(row[1])
        who = f"person {person}" + (f" (a duplicate of person {winner})" if winner != person else "")
        missing.append(_unsynced(f"contact of {who}", row))
        return None

    def product(self, service, missing):
        row = self.products.get(str(service))
        if row and row[0] == "synced" and row[1]:
            return int(row[1])
        missing.append(_unsynced(f"product of service {service}", row))
        return None


def store_invoice_records(heads, items, facts):
    """Records of a chunk of invoiceHed rows with their invoiceItem rows."""
    by_head = {}
    for item in items:
        by_head.setdefault(item["invoiceHedId"], []).append(item)
    resolver = Resolver(facts, [h["personVId"] for h in heads], [i["serviceId"] for i in items])
    return [_invoice(head, by_head.get(head["IDD"], []), resolver, f"store invoice {head['IDD']}", head["discount"])
            for head in heads]


def service_invoice_records(rows, facts):
    """Records of a chunk of ServiceInvoice rows (header and its one item in one row)."""
    resolver = Resolver(facts, [r["personVId"] for r in rows], [r["serviceId"] for r in rows])
    # The row's discount is its one item's: the invoice as a whole has none of its own.
    return [_invoice(row, [row], resolver, f"service invoice {row['IDD']}", 0) for row in rows]


def _invoice(head, items, resolver, label, discount):
    missing = []
    contact_id = resolver.contact(head["personVId"], missing)
    lines = [{"service": item["serviceId"], "productId": resolver.product(item["serviceId"], missing),
              "quantity": item["quantity"], "unitPrice": _money(item["unitPrice"]),
              "discount": _money(item["discount"])} for item in items]
    if not items:
        missing.append(f"{label} has no line items")
    trigger = next((i["serviceId"] for i in items if i["serviceId"] in resolver.facts.deals), None)
    return {
        "key": head["IDD"], "missing": sorted(set(missing)),
        "deal": list(resolver.facts.deals[trigger]) if trigger is not None else None,
        "body": {"number": head["invoiceNo"], "contactId": contact_id, "date": _day(head["invoiceDate"]),
                 "items": lines, "discount": _money(discount),
                 "tax": _money(head["tax"]), "description": head.get("description") or ""},
    }


def receipt_records(rows, facts):
    """Records of a chunk of receipt rows: operating incomes into the mapped bank account."""
    resolver = Resolver(facts, [r["personVId"] for r in rows])
    records = []
    for row in rows:
        missing = []
        contact_id = resolver.contact(row["personVId"], missing)
        account = facts.mapped("bank_account", row["modeldaryaft"])
        if account is None:
            missing.append(f"no bank account is mapped for payment method {row['modeldaryaft']} (Mappings)")
        records.append({"key": row["IDD"], "missing": missing,
                        "body": {"contactId": contact_id, "amount": _money(row["amount"]), "date": _day(row["receiptDate"]),
                                 "bankAccountId": account, "description": row["description"] or ""}})
    return records
