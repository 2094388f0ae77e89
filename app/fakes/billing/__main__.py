"""python -m app.fakes.billing --url sqlite:///instance/billing_demo.db --crps 200 --cpcs 20000 [--seed 1 --today YYYY-MM-DD]"""
import argparse
import datetime as dt
import sys
import time

from .seed import create_and_seed


def main(argv=None):
    """Create and seed the fake CC&B database; print what was made and how long it took."""
    ap = argparse.ArgumentParser(prog="python -m app.fakes.billing", description="Seed a fake CC&B database")
    ap.add_argument("--url", required=True, help="any SQLAlchemy URL; its CC&B tables are dropped first")
    ap.add_argument("--crps", type=int, default=200)
    ap.add_argument("--cpcs", type=int, default=20000)
    ap.add_argument("--noise", type=int, default=None, help="accounts that are no CPC (default: cpcs/10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--share", type=float, default=0.12, help="share of CPCs made bill stops")
    ap.add_argument("--today", default=None, help="YYYY-MM-DD anchor for generated dates (default: today)")
    args = ap.parse_args(argv)
    today = dt.date.fromisoformat(args.today) if args.today else None
    started = time.perf_counter()
    made = create_and_seed(args.url, args.crps, args.cpcs, args.seed, today, args.share, args.noise)
    for table, count in made["rows"].items():
        print(f"{table:12} {count:>10,}")
    print(f"crps={made['crps']} cpcs={made['cpcs']} noise={made['noise']} "
          f"bill_stops_intended={made['bill_stops_intended']} today={made['today']}")
    print(f"seconds={time.perf_counter() - started:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
