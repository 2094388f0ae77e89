"""The subset of QuickBooks Online's query language the fake answers; anything else is a parse error.

    select * | count(*) from SalesReceipt | RefundReceipt
        [where <cond> [and <cond>] ...] [orderby Id | TxnDate | DocNumber [asc | desc]]
        [startposition n] [maxresults m]
    <cond>:  TxnDate (= | >= | <= | > | <) 'YYYY-MM-DD'  |  DocNumber = 'X'  |  DocNumber in ('a', 'b', ...)
             |  Id = '5'  |  Id in ('5', '6')

Keywords and entity names are case-insensitive, values are not; a quote inside a value is written \\' (or '').
MAXRESULTS defaults to 100 and may be 1..1000; STARTPOSITION is 1-based.
"""
import datetime as dt
import re
from dataclasses import dataclass, field

ENTITIES = {"salesreceipt": "SalesReceipt", "refundreceipt": "RefundReceipt"}
FIELD_OPS = {"txndate": ("TxnDate", ("=", ">=", "<=", ">", "<")), "docnumber": ("DocNumber", ("=", "in")),
             "id": ("Id", ("=", "in"))}
ORDER_FIELDS = {"id": "Id", "txndate": "TxnDate", "docnumber": "DocNumber"}
DEFAULT_MAX, MAX_RESULTS = 100, 1000
TOKEN = re.compile(r"\s*(?:(?P<text>'(?:[^'\\]|\\.|'')*')|(?P<number>\d+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
                   r"|(?P<symbol>>=|<=|[=<>(),*]))")
COMPARE = {"=": lambda a, b: a == b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
           ">": lambda a, b: a > b, "<": lambda a, b: a < b}


class QueryError(ValueError):
    """The query is outside what the fake (and here, QBO) understands."""


@dataclass
class Query:
    entity: str
    count: bool = False
    conditions: list = field(default_factory=list)  # (field, op, value or tuple of values)
    order: tuple = ("Id", False)                     # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX

    def matches(self, obj):
        return all(_holds(obj, *condition) for condition in self.conditions)

    def lookup(self):
        """(field, values) of an equality on DocNumber or Id, which an index answers without a scan; or None."""
        for name, op, value in self.conditions:
            if name in ("DocNumber", "Id"):
                return name, value if op == "in" else (value,)
        return None

    def page(self, objects):
        """The matching objects in order, from start, at most max_results of them."""
        name, descending = self.order
        key = (lambda o: int(o["Id"])) if name == "Id" else (lambda o: (str(o.get(name) or ""), int(o["Id"])))
        ordered = sorted((o for o in objects if self.matches(o)), key=key, reverse=descending)
        return ordered[self.start - 1:self.start - 1 + self.max_results]


def _holds(obj, name, op, value):
    actual = obj.get(name)
    if actual is None:
        return False
    if op == "in":
        return str(actual) in value
    return COMPARE[op](str(actual), value)


# ---------------------------------------------------------------------------------- parsing
def parse(text):
    """The Query that text asks, else QueryError."""
    tokens = _Tokens(_tokenize(text or ""))
    tokens.keyword("select")
    count = _projection(tokens)
    tokens.keyword("from")
    entity = ENTITIES.get(tokens.word().lower())
    if entity is None:
        raise QueryError("unknown entity")
    query = Query(entity, count)
    if tokens.accept_keyword("where"):
        query.conditions.append(_condition(tokens))
        while tokens.accept_keyword("and"):
            query.conditions.append(_condition(tokens))
    _clauses(tokens, query)
    return query


def _tokenize(text):
    tokens, pos, text = [], 0, text.strip().rstrip(";")
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"unexpected text at {pos}")
        kind = match.lastgroup
        tokens.append((kind, _unquote(match.group(kind)) if kind == "text" else match.group(kind)))
        pos = match.end()
    return tokens


def _unquote(quoted):
    return re.sub(r"\\(.)|''", lambda m: m.group(1) or "'", quoted[1:-1])


def _projection(tokens):
    """True for count(*), False for *."""
    if tokens.accept("symbol", "*"):
        return False
    tokens.keyword("count")
    for symbol in "(*)":
        tokens.expect("symbol", symbol)
    return True


def _condition(tokens):
    name, ops = FIELD_OPS.get(tokens.word().lower(), (None, ()))
    op = tokens.operator()
    if name is None or op not in ops:
        raise QueryError("unsupported condition")
    if op == "in":
        tokens.expect("symbol", "(")
        values = [tokens.value()]
        while tokens.accept("symbol", ","):
            values.append(tokens.value())
        tokens.expect("symbol", ")")
        return name, op, tuple(values)
    value = tokens.value()
    if name == "TxnDate":
        _check_date(value)
    return name, op, value


def _check_date(value):
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError("TxnDate is a 'YYYY-MM-DD' date") from None
    if len(value) != 10:
        raise QueryError("TxnDate is a 'YYYY-MM-DD' date")


def _clauses(tokens, query):
    """orderby, startposition and maxresults, each at most once, then the end."""
    seen = set()
    while not tokens.done():
        word = tokens.word().lower()
        if word in seen:
            raise QueryError(f"{word} twice")
        seen.add(word)
        if word in ("orderby", "order"):
            seen.update(("orderby", "order"))
            if word == "order":
                tokens.keyword("by")
            _order(tokens, query)
        elif word == "startposition":
            query.start = tokens.number(1, None)
        elif word == "maxresults":
            query.max_results = tokens.number(1, MAX_RESULTS)
        else:
            raise QueryError(f"unexpected {word}")


def _order(tokens, query):
    name = ORDER_FIELDS.get(tokens.word().lower())
    if name is None:
        raise QueryError("unsupported orderby")
    descending = False
    if tokens.peek_word() in ("asc", "desc"):
        descending = tokens.word().lower() == "desc"
    query.order = (name, descending)


class _Tokens:
    """The token list with the small look-ahead the grammar needs."""

    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0

    def done(self):
        return self.pos >= len(self.tokens)

    def next(self):
        if self.done():
            raise QueryError("the query ends too early")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def accept(self, kind, value):
        if not self.done() and self.tokens[self.pos][0] == kind and self.tokens[self.pos][1].lower() == value:
            self.pos += 1
            return True
        return False

    def expect(self, kind, value):
        if not self.accept(kind, value):
            raise QueryError(f"expected {value}")

    def accept_keyword(self, word):
        return self.accept("word", word)

    def keyword(self, word):
        self.expect("word", word)

    def word(self):
        kind, value = self.next()
        if kind != "word":
            raise QueryError("expected a name")
        return value

    def peek_word(self):
        if self.done() or self.tokens[self.pos][0] != "word":
            return None
        return self.tokens[self.pos][1].lower()

    def operator(self):
        kind, value = self.next()
        if kind == "word" and value.lower() == "in":
            return "in"
        if kind == "symbol" and value in COMPARE:
            return value
        raise QueryError("expected an operator")

    def value(self):
        """A quoted text, or a bare number (Id = 5)."""
        kind, value = self.next()
        if kind not in ("text", "number"):
            raise QueryError("expected a value")
        return value

    def number(self, low, high):
        kind, value = self.next()
        if kind != "number" or int(value) < low or (high is not None and int(value) > high):
            raise QueryError("expected a number in range")
        return int(value)
