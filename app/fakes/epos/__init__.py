"""A protocol-faithful fake EPOS Now v4 API (HTTP Basic per company, Transaction/GetByDate in local time,
paged) over deterministic seeded café sales, with faults and its own truth under /_fake/; see server.py.

Run it as its own process:  python -m app.fakes.epos --port 0 --companies 3 --days 14 --per-day 40
"""
