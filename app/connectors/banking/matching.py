"""Match credit lines to UISP customers from the cached UISP data (customers and their open invoices).

Rules, in order (each can be switched off in Settings):
1. an open invoice's number in the reference or remittance text: that invoice's customer;
2. a customer number (UISP's custom id, `userIdent`) in the text: that customer;
3. the amount alone: the one customer with an open invoice (or open total) of exactly that amount.
A rule that finds two customers, or a customer whose open invoices do not add up to the credit, leaves
the line for review. The payer's name is compared (rapidfuzz) only to suggest a customer, never to match.
"""
import re
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select, update

from ... import settings
from ...db import utcnow
from ...extensions import db
from ..uisp.models import Customer, Invoice, InvoiceStatus
from .models import BankLine

OPEN = (InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID)
_TOKEN = re.compile(r"[A-Za-z0-9]+")
CHUNK = 2000


@dataclass
class Outcome:
    status: str                      # matched | review | unmatched
    rule: str = ""
    client_id: int | None = None
    invoices: list = field(default_factory=list)
    note: str = ""
    suggested: int | None = None
    score: int | None = None


class Directory:
    """The cached UISP customers and open invoices, indexed for matching (loaded once per run)."""

    def __init__(self):
        customers = db.session.execute(select(Customer.id, Customer.user_ident, Customer.name)
                                       .where(Customer.is_archived.is_(False))).all()
        self.by_number = {str(ident).upper(): cid for cid, ident, _ in customers if ident}
        self.names = {cid: name for cid, _, name in customers if name}
        self.open_by_client = defaultdict(list)
        self.invoice_by_number = {}
        rows = db.session.execute(select(Invoice.id, Invoice.client_id, Invoice.number, Invoice.remaining_cents,
                                         Invoice.created_date).where(Invoice.status.in_([int(s) for s in OPEN]),
                                                                     Invoice.remaining_cents > 0)
                                  .order_by(Invoice.created_date, Invoice.id)).all()
        for iid, cid, number, cents, _ in rows:
            invoice = {"id": iid, "number": number, "cents": int(cents), "client_id": cid}
            self.open_by_client[cid].append(invoice)
            self.invoice_by_number[str(number).upper()] = invoice
        self.by_amount = defaultdict(set)
        for cid, invoices in self.open_by_client.items():
            self.by_amount[sum(i["cents"] for i in invoices)].add(cid)
            for invoice in invoices:
                self.by_amount[invoice["cents"]].add(cid)
        self._choices = list(self.names.items())
        db.session.rollback()

    def suggest(self, name, threshold, among=None):
        """(client id, score) of the most similar customer name at or above threshold, else (None, None)."""
        if not name:
            return None, None
        choices = {cid: self.names.get(cid, "") for cid in among} if among else dict(self._choices)
        best = process.extractOne(name, choices, scorer=fuzz.token_sort_ratio, processor=utils.default_process,
                                  score_cutoff=threshold)
        return (best[2], int(best[1])) if best else (None, None)


def match_line(line, directory, rules):
    """The outcome of the rules for one credit line."""
    tokens = {t.upper() for t in _TOKEN.findall(f"{line.reference} {line.remittance}")}
    cents = int(round(line.amount * 100))
    if rules["invoice_number"]:
        invoices = [directory.invoice_by_number[t] for t in sorted(tokens) if t in directory.invoice_by_number]
        if invoices:
            return _by_invoices(invoices, cents)
    if rules["customer_number"]:
        clients = sorted({directory.by_number[t] for t in tokens if t in directory.by_number})
        if len(clients) > 1:
            return Outcome("review", "customer_number", note=f"names {len(clients)} customers: {clients}")
        if clients:
            return _by_client(clients[0], directory, cents, "customer_number")
    if rules["amount"]:
        clients = sorted(directory.by_amount.get(cents, ()))
        if len(clients) == 1:
            return _by_client(clients[0], directory, cents, "amount")
        if clients:
            suggested, score = directory.suggest(line.name, 0, among=clients)
            return Outcome("review", "amount", note=f"{len(clients)} customers have an open amount of "
                           f"{cents / 100:,.2f}", suggested=suggested, score=score)
    return Outcome("unmatched", note="no invoice number, customer number or amount matched")


def _by_invoices(invoices, cents):
    clients = {i["client_id"] for i in invoices}
    if len(clients) > 1:
        return Outcome("review", "invoice_number", note=f"invoices of {len(clients)} customers are named")
    owed = sum(i["cents"] for i in invoices)
    covers = [_cover(i) for i in invoices]
    client = clients.pop()
    if owed != cents:
        return Outcome("review", "invoice_number", client, covers,
                       f"pays {cents / 100:,.2f} of {owed / 100:,.2f} owed on the named invoices")
    return Outcome("matched", "invoice_number", client, covers)


def _by_client(client, directory, cents, rule):
    invoices = directory.open_by_client.get(client, [])
    exact = next((i for i in invoices if i["cents"] == cents), None)
    if exact is not None:
        return Outcome("matched", rule, client, [_cover(exact)])
    paid, covered = 0, []
    for invoice in invoices:  # oldest first: what UISP applies a payment to
        if paid >= cents:
            break
        covered.append(_cover(invoice))
        paid += invoice["cents"]
    if paid == cents:
        return Outcome("matched", rule, client, covered)
    owed = sum(i["cents"] for i in invoices)
    return Outcome("review", rule, client, [], f"pays {cents / 100:,.2f}; the customer owes {owed / 100:,.2f}")


def _cover(invoice):
    return {"id": invoice["id"], "number": invoice["number"], "cents": invoice["cents"]}


def current_rules():
    return {"invoice_number": bool(settings.get("banking_match_invoice_number")),
            "customer_number": bool(settings.get("banking_match_customer_number")),
            "amount": bool(settings.get("banking_match_amount"))}


def match_pending(progress=None, line_ids=None):
    """Match every credit line still unmatched or in review (or just `line_ids`); returns {status: n}."""
    directory, rules = Directory(), current_rules()
    threshold = int(settings.get("banking_name_suggestion_score"))
    counts, after = defaultdict(int), 0
    query = select(BankLine).where(BankLine.match_status.in_(("unmatched", "review")), BankLine.amount > 0,
                                   BankLine.matched_by == "")
    if line_ids is not None:
        query = query.where(BankLine.id.in_(list(line_ids)))
    while lines := db.session.scalars(query.where(BankLine.id > after).order_by(BankLine.id).limit(CHUNK)).all():
        after = lines[-1].id
        for line in lines:
            outcome = match_line(line, directory, rules)
            if outcome.status != "matched" and outcome.suggested is None:
                outcome.suggested, outcome.score = directory.suggest(line.name, threshold)
            _apply(line, outcome)
            counts[outcome.status] += 1
        db.session.commit()
        if progress:
            progress(sum(counts.values()))
    return dict(counts)


def _apply(line, outcome):
    line.match_status, line.match_rule, line.client_id = outcome.status, outcome.rule, outcome.client_id
    line.invoices, line.match_note = outcome.invoices, outcome.note
    line.suggested_client_id, line.suggestion_score = outcome.suggested, outcome.score
    line.updated_at = utcnow()


def assign(line, client_id, invoices, username):
    """An operator's match: this customer (and these open invoices); kept by later automatic runs."""
    line.match_status, line.match_rule, line.client_id = "matched", "manual", client_id
    line.invoices, line.matched_by, line.match_note = invoices, username, f"assigned by {username}"
    line.updated_at = utcnow()


def set_aside(line_ids, status, username):
    """Ignore lines (or put them back to be matched again); returns how many changed."""
    values = {"match_status": status, "matched_by": username if status == "ignored" else "", "updated_at": utcnow()}
    if status == "unmatched":
        values.update(client_id=None, invoices=[], match_rule="", match_note="")
    return db.session.execute(update(BankLine).where(BankLine.id.in_(list(line_ids)),
                                                     BankLine.match_status.not_in(("bulk", "debit")))
                              .values(**values)).rowcount
