"""Which format a statement file is in, from its content alone: banks name files .txt, .dat or .xml
whatever they hold, so the extension decides nothing."""
from . import mt940_format, ofx_format

CAMT053_MARK = b"camt.053.001."


def detect_format(content: bytes, filename: str = ""):
    """"camt053", "mt940", "ofx" or "csv" (the fallback); "xml" for XML that is not a statement
    (camt.052/054, pain.001 …), which parse_statement refuses saying what it is."""
    head = content[:4000].lstrip(b"\xef\xbb\xbf \t\r\n")
    if ofx_format.is_ofx(head):  # before XML: OFX 2 is XML too
        return "ofx"
    if head.startswith(b"<"):
        return "camt053" if CAMT053_MARK in head else "xml"
    if mt940_format.is_mt940(head.decode("latin-1")):
        return "mt940"
    return "csv"
