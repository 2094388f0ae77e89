"""Which format a statement file is in, from its content (the extension is only a tie-breaker)."""
from . import camt_format, mt940_format, ofx_format

FORMATS = ("camt053", "mt940", "ofx", "csv")


def detect_format(content: bytes, filename: str = ""):
    head = content[:4000].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml") or head.startswith(b"<"):
        if ofx_format.is_ofx(head):
            return "ofx"
        return "camt053"
    if ofx_format.is_ofx(head):
        return "ofx"
    if mt940_format.is_mt940(head.decode("latin-1")):
        return "mt940"
    return "csv"
