"""Protocol-faithful fake UISP CRM API v1.0 (see API-NOTES.md).

Run it as its own process:  python -m app.fakes.uisp --port 8901 --clients 2000 --app-key demo-key
"""
