"""How each kind of record reaches the CRM: send(record, entry) for base/push.py, and lookup(client_key,
record) that finds what an interrupted run may already have created there.

Every create carries `externalId` = the ledger's client key, written before the call, so after a
crash or a lost answer the object is found by it (or by its natural key: a contact's mobile, a
product's code, an invoice's number) and never created twice. An invoice is created, then
confirmed, then gets its deal; a lookup finishes whichever of those steps a crash interrupted.
"""
import functools
import threading

from ..base.push import RecordRejected, RecordSkipped
from .client import CrmRejected

CONTACTS, CATEGORIES, PRODUCTS = "/api/contacts", "/api/product-categories", "/api/products"
INVOICES, INCOMES, DEALS = "/api/invoices", "/api/operating-incomes", "/api/deals"


def _refusal_fails_the_record(send):
    """The CRM's validation error fails this record alone, with the CRM's own message."""
    @functools.wraps(send)
    def wrapper(self, record, entry):
        if record.get("duplicate"):
            raise RecordSkipped(record["duplicate"])
        if record.get("missing"):
            raise RecordSkipped("; ".join(record["missing"]))
        try:
            return send(self, record, entry)
        except CrmRejected as exc:
            raise RecordRejected(str(exc)) from None
    return wrapper


class Sender:
    """The sends and lookups of every stream, over one client shared by the push threads."""

    def __init__(self, client):
        self.client = client
        self._categories, self._category_lock = {}, threading.Lock()

    # --- contacts -------------------------------------------------------------------
    @_refusal_fails_the_record
    def contact(self, record, entry):
        body = record["body"]
        target = entry.target_id or self._existing_contact(body)
        if target:
            return self.client.put(f"{CONTACTS}/{target}", body)["id"]
        return self.client.create(CONTACTS, {**body, "externalId": entry.client_key})["id"]

    def _existing_contact(self, body):
        """A contact the CRM already has for this person (by mobile, then national code): updated, not doubled."""
        for name, value in (("mobile", body["mobile"]), ("nationalCode", body["nationalCode"])):
            if value:
                found = self.client.find(CONTACTS, **{name: value})
                if found:
                    return found["id"]
        return None

    def contact_lookup(self, client_key, record):
        return self._found(CONTACTS, client_key)

    # --- products -------------------------------------------------------------------
    @_refusal_fails_the_record
    def product(self, record, entry):
        body = {**record["body"], "categoryId": self._category(record["category"])}
        found = None if entry.target_id else self.client.find(PRODUCTS, code=body["code"])
        target = entry.target_id or (found and found["id"])
        if target:
            return self.client.put(f"{PRODUCTS}/{target}", body)["id"]
        return self.client.create(PRODUCTS, {**body, "externalId": entry.client_key})["id"]

    def _category(self, title):
        """The CRM's category of this title, found or created once per run (by one thread at a time)."""
        with self._category_lock:
            if title not in self._categories:
                found = self.client.find(CATEGORIES, title=title)
                if not found:
                    found = self.client.create(CATEGORIES, {"title": title, "externalId": f"category:{title}"[:200]})
                self._categories[title] = found["id"]
            return self._categories[title]

    def product_lookup(self, client_key, record):
        return self._found(PRODUCTS, client_key) or self._found_by(PRODUCTS, code=record["body"]["code"])

    # --- invoices -------------------------------------------------------------------
    @_refusal_fails_the_record
    def invoice(self, record, entry):
        body = _invoice_body(record)
        if entry.target_id:
            invoice = self.client.put(f"{INVOICES}/{entry.target_id}", body)
        else:
            invoice = self.client.create(INVOICES, {**body, "externalId": entry.client_key})
        return self._complete(invoice, record, entry.client_key)

    def invoice_lookup(self, client_key, record):
        invoice = (self.client.find(INVOICES, externalId=client_key)
                   or self.client.find(INVOICES, number=record["body"]["number"]))
        return self._complete(invoice, record, client_key) if invoice else None

    def _complete(self, invoice, record, client_key):
        """Confirm the invoice and give it its deal, each step once whatever was done before."""
        if invoice.get("status") != "confirmed":
            self.client.post(f"{INVOICES}/{invoice['id']}/confirm")
        if record["deal"] and not self.client.find(DEALS, invoiceId=invoice["id"]):
            funnel, level = record["deal"]
            body = record["body"]
            self.client.create(DEALS, {"title": f"Invoice {body['number']}", "contactId": body["contactId"],
                                       "funnelId": funnel, "funnelLevelId": level, "invoiceId": invoice["id"],
                                       "amount": invoice.get("total"), "externalId": f"{client_key}:deal"})
        return invoice["id"]

    # --- receipts -------------------------------------------------------------------
    @_refusal_fails_the_record
    def receipt(self, record, entry):
        if entry.target_id:
            return self.client.put(f"{INCOMES}/{entry.target_id}", record["body"])["id"]
        return self.client.create(INCOMES, {**record["body"], "externalId": entry.client_key})["id"]

    def receipt_lookup(self, client_key, record):
        return self._found(INCOMES, client_key)

    # --- shared ---------------------------------------------------------------------
    def _found(self, path, client_key):
        return self._found_by(path, externalId=client_key)

    def _found_by(self, path, **params):
        found = self.client.find(path, **params)
        return found["id"] if found else None


def _invoice_body(record):
    body = record["body"]
    return {**body, "items": [{k: v for k, v in item.items() if k != "service"} for item in body["items"]]}
