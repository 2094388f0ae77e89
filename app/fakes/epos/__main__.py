"""python -m app.fakes.epos [--host H] [--port 0] [--companies 3] [--days 14] [--per-day 40] [--seed 1]
[--timezone Europe/London] [--latency-ms 0] [--end-date YYYY-MM-DD] [--threads 64]: prints "listening on URL"
as its first line, then serves the fake EPOS Now until it is killed."""
import argparse
import datetime as dt
import sys

from ..keepalive import serve_forever
from .server import check_timezone, create_fake_app


def add_epos_arguments(parser):
    """The seeding and latency options, shared with python -m app.fakes.epos_qbo."""
    parser.add_argument("--companies", type=int, default=3, help="companies co01..coNN")
    parser.add_argument("--days", type=int, default=14, help="trading days seeded per company")
    parser.add_argument("--per-day", type=int, default=40, help="transactions a trading day (±20%%)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timezone", type=check_timezone, default="Europe/London",
                        help="the companies' local time zone")
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=None,
                        help="the last seeded trading day (default: yesterday, UTC)")
    parser.add_argument("--latency-ms", type=float, default=0, help="latency of every API request")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.epos", description="Fake EPOS Now v4 API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--threads", type=int, default=64, help="requests served at once")
    add_epos_arguments(parser)
    args = parser.parse_args(argv)
    app = create_fake_app(companies=args.companies, days=args.days, per_day=args.per_day, seed=args.seed,
                          timezone=args.timezone, latency_ms=args.latency_ms, end_date=args.end_date)
    serve_forever(app, args.host, args.port, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
