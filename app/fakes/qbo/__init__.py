"""A protocol-faithful fake QuickBooks Online: Intuit's OAuth2 refresh (strict rotation) and the v3 API for
SalesReceipt and RefundReceipt (create, batch, query, requestid idempotency) with QBO's per-realm limits,
a movable clock, faults and its own truth under /_fake/; see server.py.

Run it as its own process:  python -m app.fakes.qbo --port 0 --realms 3
"""
