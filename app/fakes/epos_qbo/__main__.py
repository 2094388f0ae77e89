"""python -m app.fakes.epos_qbo [--host H] [--port 0] [--companies 3] [--days 14] [--per-day 40] [--seed 1]
[--timezone Europe/London] [--end-date YYYY-MM-DD] [--latency-ms 0] [--client-id demo-client]
[--client-secret demo-secret] [--rate-per-minute 500] [--concurrency 10] [--batch-per-minute 40]
[--max-batch 30] [--threads 256]: prints "listening on URL" as its first line, then serves the fake EPOS Now
at URL/epos and the fake QBO at URL/qbo until it is killed (--latency-ms applies to both)."""
import argparse
import sys

from ..epos.__main__ import add_epos_arguments
from ..keepalive import serve_forever
from ..qbo.__main__ import add_qbo_arguments, qbo_options
from . import create_fake_app


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.epos_qbo",
                                     description="Fake EPOS Now (/epos) and QuickBooks Online (/qbo) on one port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--threads", type=int, default=256, help="requests served at once (both fakes)")
    add_epos_arguments(parser)  # --companies is also the number of realms
    add_qbo_arguments(parser)
    args = parser.parse_args(argv)
    epos = {"days": args.days, "per_day": args.per_day, "seed": args.seed, "timezone": args.timezone,
            "latency_ms": args.latency_ms, "end_date": args.end_date}
    app = create_fake_app(args.companies, epos=epos, qbo=qbo_options(args))
    serve_forever(app, args.host, args.port, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
