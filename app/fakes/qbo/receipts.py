"""Creating SalesReceipts and RefundReceipts as QBO does: validation faults first, then the duplicate
DocNumber check, then the stored receipt with its Id, SyncToken, TotalAmt and MetaData. Batches validate and
create each item on its own. Every function here is called with State.lock held."""
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from . import wire
from .query import QueryError, parse

DOC_NUMBER_MAX = 21
ENTITY_NAMES = {"SalesReceipt": "Sales Receipt", "RefundReceipt": "Refund Receipt"}
MISSING = "2020"   # Required param missing, need to supply the required value for the API
INVALID = "6000"   # A business validation error has occurred
DUPLICATE = "6140"


def create(st, realm, entity, body):
    """("ok", the stored receipt) or ("fault", the inner Fault object)."""
    problem = _problem(body)
    if problem is None and st.rejected(realm, body.get("DocNumber")):
        problem = (INVALID, "Rejected by the test", f"DocNumber {body['DocNumber']} is rejected by the test")
    if problem:
        return "fault", wire.validation(*problem)
    doc = body.get("DocNumber")
    if doc and doc in realm.doc_numbers[entity]:
        realm.counts["duplicates_refused"] += 1
        return "fault", wire.validation(DUPLICATE, "Duplicate Document Number Error",
                                        f"Duplicate Document Number Error : You must specify a different number. "
                                        f"This number has already been used. DocNumber={doc} is assigned to "
                                        f"TxnType={ENTITY_NAMES[entity]} with TxnId={realm.doc_numbers[entity][doc]}")
    return "ok", realm.store(entity, _finished(st, body))


def answer(st, realm, entity, body):
    """The (status, body) of POST .../salesreceipt or .../refundreceipt."""
    outcome, value = create(st, realm, entity, body)
    if outcome == "fault":
        return 400, {"Fault": value, "time": st.now_iso()}
    return 200, {entity: value, "time": st.now_iso()}


def batch(st, realm, body):
    """The (status, body) of POST .../batch: too many items is a fault of the whole; else one answer each."""
    items = body.get("BatchItemRequest")
    if not isinstance(items, list) or not items:
        return 400, {"Fault": wire.validation(MISSING, "Required param missing: BatchItemRequest"),
                     "time": st.now_iso()}
    if len(items) > st.limits.max_batch:
        return 400, {"Fault": wire.validation(INVALID, f"Batch too large: {len(items)} items, at most "
                                                       f"{st.limits.max_batch}"), "time": st.now_iso()}
    return 200, {"BatchItemResponse": [_batch_item(st, realm, item) for item in items], "time": st.now_iso()}


def _batch_item(st, realm, item):
    if not isinstance(item, dict):
        return {"Fault": wire.validation(MISSING, "A batch item must be an object")}
    answered = {"bId": str(item.get("bId"))} if item.get("bId") is not None else {}
    if "Query" in item:
        return {**answered, **run_query(realm, item["Query"])}
    entities = [e for e in ENTITY_NAMES if e in item]
    if item.get("operation") != "create" or len(entities) != 1 or not isinstance(item[entities[0]], dict):
        return {**answered, "Fault": wire.validation(INVALID, "Unsupported batch item: the fake creates one "
                                                              "SalesReceipt or RefundReceipt per item")}
    outcome, value = create(st, realm, entities[0], item[entities[0]])
    return {**answered, ("Fault" if outcome == "fault" else entities[0]): value}


def run_query(realm, text):
    """{"QueryResponse": ...} for a query, or {"Fault": ...} when it does not parse."""
    try:
        query = parse(text if isinstance(text, str) else "")
    except QueryError:
        return {"Fault": wire.parse_error()}
    objects = realm.entities[query.entity]
    lookup = query.lookup()
    if lookup:  # an index, not a scan of every receipt
        name, values = lookup
        ids = values if name == "Id" else (realm.doc_numbers[query.entity].get(v) for v in values)
        objects = {i: objects[i] for i in ids if i in objects}
    if query.count:
        return {"QueryResponse": {"totalCount": sum(1 for o in objects.values() if query.matches(o))}}
    found = query.page(objects.values())
    if not found:
        return {"QueryResponse": {}}
    return {"QueryResponse": {query.entity: found, "startPosition": query.start, "maxResults": len(found)}}


# ---------------------------------------------------------------------------------- validation
def _problem(body):
    """(code, Message, Detail) of the first thing QBO would refuse in this receipt, else None."""
    lines = body.get("Line")
    if not isinstance(lines, list) or not lines:
        return MISSING, "Required param missing: Line", "Required parameter Line is missing in the request"
    for n, line in enumerate(lines):
        problem = _line_problem(n, line)
        if problem:
            return problem
    return _date_problem(body.get("TxnDate")) or _doc_problem(body.get("DocNumber"))


def _line_problem(n, line):
    where = f"Line[{n}]"
    if not isinstance(line, dict) or "Amount" not in line or line["Amount"] is None:
        return MISSING, f"Required param missing: {where}.Amount", f"Required parameter {where}.Amount is missing"
    amount = line["Amount"]
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        return INVALID, f"Invalid number: {where}.Amount", f"{where}.Amount {amount!r} is not a number"
    if amount < 0:
        return INVALID, f"Amount is negative: {where}.Amount", f"{where}.Amount {amount} must not be negative"
    detail = line.get("SalesItemLineDetail")
    item_ref = detail.get("ItemRef") if isinstance(detail, dict) else None
    if not isinstance(item_ref, dict) or item_ref.get("value") in (None, ""):
        return (MISSING, f"Required param missing: {where}.SalesItemLineDetail.ItemRef",
                f"Required parameter {where}.SalesItemLineDetail.ItemRef is missing in the request")
    return None


def _date_problem(txn_date):
    if txn_date is None:
        return None
    try:
        valid = isinstance(txn_date, str) and len(txn_date) == 10 and dt.date.fromisoformat(txn_date)
    except ValueError:
        valid = False
    if not valid:
        return INVALID, "Invalid date: TxnDate", f"TxnDate {txn_date!r} is not a YYYY-MM-DD date"
    return None


def _doc_problem(doc):
    if doc is None:
        return None
    if not isinstance(doc, str):
        return INVALID, "Invalid string: DocNumber", f"DocNumber {doc!r} is not a string"
    if len(doc) > DOC_NUMBER_MAX:
        return (INVALID, f"String length is longer than supported: DocNumber (at most {DOC_NUMBER_MAX})",
                f"DocNumber {doc!r} has {len(doc)} characters; the maximum is {DOC_NUMBER_MAX}")
    return None


def _finished(st, body):
    """The receipt as stored: the body with its TxnDate (today on the fake clock by default), the total and
    the metadata."""
    now = st.now_iso()
    total = sum((Decimal(str(line["Amount"])) for line in body["Line"]), Decimal(0))
    return {**body, "TxnDate": body.get("TxnDate") or now[:10], "domain": "QBO", "sparse": False,
            "SyncToken": "0", "TotalAmt": float(total.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "MetaData": {"CreateTime": now, "LastUpdatedTime": now}}
