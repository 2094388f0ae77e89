"""What the fake CRM accepts: each entity's validation rules, giving the 422 answer's "errors" object
({field: [text, ...]}, empty when the object is valid), and an invoice's total.

Ids must be JSON integers (a string "3" is no contact id), and digits ASCII only: a real CRM refuses
Persian digits in a mobile, so the connector must normalise them before it sends.
"""
import math
import re

from .lookups import BANK_ACCOUNTS, FUNNEL_LEVELS, GENDERS, ORGANIZATIONS, PRODUCT_TYPES, ids

MOBILE = re.compile(r"09[0-9]{9}")
NATIONAL_CODE = re.compile(r"[0-9]{10}")


class Errors(dict):
    """{field: [text, ...]}: every problem of the object at once, as the CRM reports them."""

    def add(self, field, text):
        self.setdefault(field, []).append(text)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_id(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check(entity, obj, store, creating):
    """The errors of obj as entity (store: the State: store[entity] is {id: object}, store.first(entity,
    field, value) the first object with that value); creating adds the uniqueness rules."""
    errors = Errors()
    external_id = obj.get("externalId")
    if external_id is not None and not isinstance(external_id, str):
        errors.add("externalId", "The externalId must be a string")
    CHECKS[entity](obj, store, errors, creating)
    return errors


def invoice_total(invoice):
    """sum(quantity × unitPrice − item discount) − discount + tax (of a valid invoice)."""
    lines = sum(item["quantity"] * item["unitPrice"] - (item.get("discount") or 0) for item in invoice["items"])
    total = lines - (invoice.get("discount") or 0) + (invoice.get("tax") or 0)
    return round(total, 2) if isinstance(total, float) else total


# ---------------------------------------------------------------------------------- field rules
def _text(errors, obj, field, label):
    value = obj.get(field)
    if not isinstance(value, str) or not value.strip():
        errors.add(field, f"The {label} is required")


def _pattern(errors, obj, field, pattern, text):
    """An optional text field: null or absent is fine, anything else must match the whole pattern."""
    value = obj.get(field)
    if value is not None and not (isinstance(value, str) and pattern.fullmatch(value)):
        errors.add(field, f"{text}, not {value!r}")


def _member(errors, obj, field, known, what, optional=False):
    """An id that must be one of known (a set, or a stored entity's {id: object})."""
    value = obj.get(field)
    if value is None:
        if not optional:
            errors.add(field, f"The {field} is required")
    elif not is_id(value) or value not in known:
        errors.add(field, f"No {what} with id {value!r}")


def _number(errors, obj, field, text, minimum=None, above=None, optional=False, where=None):
    value = obj.get(field)
    if value is None and optional:
        return
    if not is_number(value) or (minimum is not None and value < minimum) or (above is not None and value <= above):
        errors.add(where or field, text)


# ---------------------------------------------------------------------------------- entities
def _contact(contact, store, errors, creating):
    _text(errors, contact, "lastName", "last name")
    _pattern(errors, contact, "mobile", MOBILE, "The mobile must be 11 digits starting with 09")
    _pattern(errors, contact, "nationalCode", NATIONAL_CODE, "The national code must be 10 digits")
    _member(errors, contact, "gender", ids(GENDERS), "gender", optional=True)
    _member(errors, contact, "organizationId", ids(ORGANIZATIONS), "organization", optional=True)
    mobile = contact.get("mobile")
    if creating and mobile is not None and "mobile" not in errors:
        other = store.first("contacts", "mobile", mobile)
        if other:
            errors.add("mobile", f"A contact with mobile {mobile} already exists (id {other['id']})")


def _category(category, store, errors, creating):
    _text(errors, category, "title", "title")
    title = category.get("title")
    if not creating or "title" in errors:
        return
    other = store.first("product-categories", "title", title)
    if other:
        errors.add("title", f"A product category titled {title!r} already exists (id {other['id']})")


def _product(product, store, errors, creating):
    _text(errors, product, "title", "title")
    _member(errors, product, "categoryId", store["product-categories"], "product category")
    _number(errors, product, "price", "The price must be a number >= 0", minimum=0)
    kind = product.get("type")
    if not is_id(kind) or kind not in PRODUCT_TYPES:
        errors.add("type", f"The type must be 1 (goods) or 2 (service), not {kind!r}")


def _invoice(invoice, store, errors, creating):
    _member(errors, invoice, "contactId", store["contacts"], "contact")
    for field in ("discount", "tax"):
        _number(errors, invoice, field, f"The {field} must be a number", optional=True)
    items = invoice.get("items")
    if not isinstance(items, list) or not items:
        errors.add("items", "At least one item is required")
        return
    missing = []
    for n, item in enumerate(items, 1):
        _item(errors, n, item, store["products"], missing)
    if missing:
        errors.add("items", "Unknown product ids: " + ", ".join(map(repr, dict.fromkeys(missing))))


def _item(errors, n, item, products, missing):
    """One invoice line; an unknown product id joins missing, so the answer names them all in one text."""
    if not isinstance(item, dict):
        errors.add("items", f"Item {n} must be an object")
        return
    product_id = item.get("productId")
    if not is_id(product_id) or product_id not in products:
        missing.append(product_id)
    _number(errors, item, "quantity", f"Item {n}: the quantity must be a number > 0", above=0, where="items")
    _number(errors, item, "unitPrice", f"Item {n}: the unitPrice must be a number", where="items")
    _number(errors, item, "discount", f"Item {n}: the discount must be a number", optional=True, where="items")


def _income(income, store, errors, creating):
    _member(errors, income, "contactId", store["contacts"], "contact")
    _number(errors, income, "amount", "The amount must be a number > 0", above=0)
    _member(errors, income, "bankAccountId", ids(BANK_ACCOUNTS), "bank account")


def _deal(deal, store, errors, creating):
    _member(errors, deal, "contactId", store["contacts"], "contact")
    _member(errors, deal, "funnelId", FUNNEL_LEVELS, "funnel")
    funnel = deal.get("funnelId")
    if "funnelId" not in errors:
        _member(errors, deal, "funnelLevelId", FUNNEL_LEVELS[funnel], f"level of funnel {funnel}")


CHECKS = {"contacts": _contact, "product-categories": _category, "products": _product, "invoices": _invoice,
          "operating-incomes": _income, "deals": _deal}
