"""Real statement files from Statement objects, in each format (for the demo, the tests and the benchmarks).

Built as strings, not DOM trees, so 100,000 lines write in a second or two. What each format carries
of a Line: the bank reference goes to CAMT AcctSvcrRef, MT940's `//` bank reference and OFX's FITID.
"""
import csv
import io
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from .checks import LOOKS_LIKE_IBAN
from .model import CsvProfile

CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."


def _sign(amount):
    return "CRDT" if amount >= 0 else "DBIT"


def write_camt053(statements, version="001.02") -> bytes:
    """camt.053.001.02 … .08 as the bank writes it. The schema changed inside: from .07 on the entry status
    is a choice (<Sts><Cd>BOOK</Cd></Sts>), from .08 on a party's name sits in <Pty> (<Dbtr><Pty><Nm>)."""
    number = int(version.rsplit(".", 1)[-1])
    status = "<Sts><Cd>BOOK</Cd></Sts>" if number >= 7 else "<Sts>BOOK</Sts>"
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT_NS}{number:02d}">'
           "<BkToCstmrStmt><GrpHdr><MsgId>SYNCDECK-1</MsgId>"
           f"<CreDtTm>{datetime(2026, 1, 1):%Y-%m-%dT%H:%M:%S}</CreDtTm></GrpHdr>"]
    for st in statements:
        out.append(f"<Stmt><Id>{escape(st.statement_id)}</Id><CreDtTm>2026-01-01T00:00:00</CreDtTm>"
                   f"<Acct><Id>{_camt_account(st.account)}</Id><Ccy>{st.currency}</Ccy></Acct>")
        for code, amount, day in (("OPBD", st.opening_balance, st.opening_date),
                                  ("CLBD", st.closing_balance, st.closing_date)):
            if amount is not None:
                out.append(f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                           f'<Amt Ccy="{st.currency}">{abs(amount):.2f}</Amt><CdtDbtInd>{_sign(amount)}</CdtDbtInd>'
                           f"<Dt><Dt>{(day or st.closing_date or st.opening_date).isoformat()}</Dt></Dt></Bal>")
        for line in st.lines:
            out.append(_camt_entry(line, status, number >= 8))
        out.append("</Stmt>")
    out.append("</BkToCstmrStmt></Document>\n")
    return "".join(out).encode()


def _camt_account(account):
    if LOOKS_LIKE_IBAN.fullmatch(account):
        return f"<IBAN>{account}</IBAN>"
    return f"<Othr><Id>{escape(account)}</Id></Othr>"


def _camt_entry(line, status, party_choice):
    party = "Dbtr" if line.amount > 0 else "Cdtr"
    refs = "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in (
        ("InstrId", line.reference), ("EndToEndId", line.end_to_end_id or "NOTPROVIDED")) if value)
    name = f"<Nm>{escape(line.name)}</Nm>"
    if party_choice:
        name = f"<Pty>{name}</Pty>"
    parties = f"<RltdPties><{party}>{name}</{party}>" if line.name else "<RltdPties>"
    if line.counterparty_account:
        parties += f"<{party}Acct><Id>{_camt_account(line.counterparty_account)}</Id></{party}Acct>"
    parties += "</RltdPties>"
    chunks = _ustrd_chunks(line.remittance)
    remittance = "<RmtInf>" + "".join(f"<Ustrd>{escape(c)}</Ustrd>" for c in chunks) + "</RmtInf>" if chunks else ""
    value = f"<ValDt><Dt>{line.value_date.isoformat()}</Dt></ValDt>" if line.value_date else ""
    bank_ref = f"<AcctSvcrRef>{escape(line.bank_reference)}</AcctSvcrRef>" if line.bank_reference else ""
    return (f'<Ntry><Amt Ccy="{line.currency}">{abs(line.amount):.2f}</Amt><CdtDbtInd>{_sign(line.amount)}</CdtDbtInd>'
            f"{status}<BookgDt><Dt>{line.booking_date.isoformat()}</Dt></BookgDt>{value}{bank_ref}"
            "<BkTxCd/><NtryDtls><TxDtls><Refs>" + refs + "</Refs>" + parties + remittance +
            "</TxDtls></NtryDtls></Ntry>")


def _ustrd_chunks(text):
    """<Ustrd> holds 140 characters: split at a space where there is one, so that the reader, which
    joins the lines with a space, gets the text back as it was."""
    chunks = []
    while len(text) > 140:
        cut = text.rfind(" ", 1, 141)
        if cut <= 0:  # one word longer than 140: cut it (the reader will see a space there)
            chunks.append(text[:140])
            text = text[140:]
        else:
            chunks.append(text[:cut])
            text = text[cut + 1:]
    return chunks + [text] if text else chunks


def _mt_amount(amount):
    return f"{abs(amount):.2f}".replace(".", ",")


def _mt_balance(amount, day, currency):
    return f"{'C' if amount >= 0 else 'D'}{day:%y%m%d}{currency}{_mt_amount(amount)}"


def write_mt940(statements) -> bytes:
    out = []
    for n, st in enumerate(statements, 1):
        reference, number = _mt_ids(st.statement_id, n)
        opening, opening_date, closing, closing_date = _balances(st)
        out += [f":20:{reference}", f":25:{st.account}", f":28C:{number}",
                f":60F:{_mt_balance(opening, opening_date, st.currency)}"]
        for line in st.lines:
            ref = (line.reference or "NONREF")[:16]
            bank = f"//{line.bank_reference[:16]}" if line.bank_reference else ""
            out.append(f":61:{line.value_date or line.booking_date:%y%m%d}{line.booking_date:%m%d}"
                       f"{'C' if line.amount >= 0 else 'D'}"
                       f"{_mt_amount(line.amount)}NTRF{ref}{bank}")
            out += _mt_86(line)
        out += [f":62F:{_mt_balance(closing, closing_date, st.currency)}", "-"]
    return ("\r\n".join(out) + "\r\n").encode("latin-1", errors="replace")


def _mt_ids(statement_id, n):
    """(:20: reference, :28C: number) of a statement: an id read from MT940 ('REF/00311/001') is split back."""
    parts = (statement_id or "").split("/")
    if len(parts) >= 3 and parts[-2].isdigit() and parts[-1].isdigit():
        return "/".join(parts[:-2])[:16] or f"STMT{n}", f"{parts[-2]}/{parts[-1]}"
    return (statement_id or f"STMT{n}")[:16], f"{n:05d}/1"


def _balances(st):
    """Opening and closing balance and dates, the missing ones derived (MT940 and OFX require them)."""
    total = sum((line.amount for line in st.lines), Decimal("0"))
    opening, closing = st.opening_balance, st.closing_balance
    if opening is None:
        opening = closing - total if closing is not None else Decimal("0.00")
    if closing is None:
        closing = opening + total
    first = st.lines[0].booking_date if st.lines else datetime(2026, 1, 1).date()
    last = st.lines[-1].booking_date if st.lines else first
    return opening, st.opening_date or first, closing, st.closing_date or last


def _mt_86(line):
    """:86: as SEPA keywords, wrapped at 65 characters. It holds at most 6 such lines, so the remittance
    goes last (SVWZ+) and whatever does not fit is cut off, as banks do."""
    text = "".join(f"{key}+{_one_line(value)}" for key, value in (
        ("EREF", line.end_to_end_id), ("NAME", line.name), ("IBAN", line.counterparty_account),
        ("SVWZ", line.remittance)) if value)
    chunks = _wrap(text, 65, 6)
    if chunks:
        chunks[0] = ":86:" + chunks[0]
    return chunks


def _wrap(text, width, most):
    """Lines of at most `width` characters, never ending in a space (readers strip those) nor starting
    with '-' or ':' (which would end the message or read as a tag)."""
    chunks = []
    while text and len(chunks) < most:
        cut = min(width, len(text))
        while 1 < cut < len(text) and (text[cut - 1] == " " or text[cut] in "-:"):
            cut -= 1
        chunks.append(text[:cut])
        text = text[cut:]
    return chunks


def _one_line(value):
    # a line starting with '-' or ':' would end the message or start a tag: keep the text on one line
    return " ".join(str(value).split())


def write_ofx(statement, version=2) -> bytes:
    st = statement
    bank, _, acct = st.account.partition("/") if "/" in st.account else ("", "", st.account)
    _, opening_date, closing, closing_date = _balances(st)
    when, start = f"{closing_date:%Y%m%d}120000", f"{opening_date:%Y%m%d}"
    txs = "".join(_ofx_tx(line, n) for n, line in enumerate(st.lines, 1))
    body = ("<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
            f"<DTSERVER>{when}</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>"
            "<BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
            f"<STMTRS><CURDEF>{st.currency}</CURDEF><BANKACCTFROM><BANKID>{escape(bank or '000000')}</BANKID>"
            f"<ACCTID>{escape(acct)}</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>"
            f"<BANKTRANLIST><DTSTART>{start}</DTSTART><DTEND>{when}</DTEND>{txs}</BANKTRANLIST>"
            f"<LEDGERBAL><BALAMT>{closing:.2f}</BALAMT><DTASOF>{when}</DTASOF></LEDGERBAL>"
            "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
    if version == 1:
        header = ("OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
                  "CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n")
        return (header + body).encode("cp1252", errors="replace")
    header = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
              '<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n')
    return (header + body).encode()


def _ofx_tx(line, n):
    kind = "CREDIT" if line.amount >= 0 else "DEBIT"
    fitid = line.fitid or line.bank_reference or f"{line.booking_date:%Y%m%d}-{n}"
    refnum = f"<REFNUM>{escape(line.reference[:32])}</REFNUM>" if line.reference else ""
    name = f"<NAME>{escape(line.name[:32])}</NAME>" if line.name else ""
    memo = f"<MEMO>{escape(line.remittance[:255])}</MEMO>" if line.remittance else ""
    available = (f"<DTAVAIL>{line.value_date:%Y%m%d}120000</DTAVAIL>"
                 if line.value_date and line.value_date != line.booking_date else "")
    return (f"<STMTTRN><TRNTYPE>{kind}</TRNTYPE><DTPOSTED>{line.booking_date:%Y%m%d}120000</DTPOSTED>{available}"
            f"<TRNAMT>{line.amount:.2f}</TRNAMT><FITID>{escape(fitid[:255])}</FITID>{refnum}{name}{memo}</STMTTRN>")


def write_csv(statement, profile=CsvProfile()):  # a frozen dataclass: a safe default
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if profile.delimiter == "auto" else profile.delimiter,
                        lineterminator="\r\n")
    columns = [(profile.date, lambda l: l.booking_date.strftime(profile.date_format))]
    if profile.value_date:
        columns.append((profile.value_date, lambda l: (l.value_date or l.booking_date).strftime(profile.date_format)))
    if profile.amount:
        columns.append((profile.amount, lambda l: _csv_money(l.amount, profile)))
    else:
        columns += [(profile.credit, lambda l: _csv_money(l.amount, profile) if l.amount > 0 else ""),
                    (profile.debit, lambda l: _csv_money(-l.amount, profile) if l.amount < 0 else "")]
    for name, attr in ((profile.currency, "currency"), (profile.reference, "reference"),
                       (profile.bank_reference, "bank_reference"), (profile.name, "name"),
                       (profile.description, "remittance")):
        if name:
            columns.append((name, lambda l, a=attr: getattr(l, a)))
    if profile.account:
        columns.append((profile.account, lambda l: statement.account))
    running = [statement.opening_balance or Decimal("0")]
    if profile.balance:
        def balance(line):
            running[0] += line.amount
            return _csv_money(running[0], profile)
        columns.append((profile.balance, balance))
    writer.writerow([name for name, _ in columns])
    for line in statement.lines:
        writer.writerow([cell(line) for _, cell in columns])
    return buffer.getvalue().encode()


def _csv_money(amount, profile):
    text = f"{amount:,.2f}" if profile.thousands else f"{amount:.2f}"
    if profile.thousands or profile.decimal != ".":
        text = text.replace(",", "\x00").replace(".", profile.decimal).replace("\x00", profile.thousands)
    return text
