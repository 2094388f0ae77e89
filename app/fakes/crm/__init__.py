"""A fake Asanito-style SaaS CRM REST API (bearer login, contacts, products, invoices, operating incomes,
deals, read-only lookups) with faults and its own truth under /__fake/; see server.py for the API."""
