"""python -m app.fakes.crm_source --url URL [--members N ...]: seed the fake source, print the summary as JSON."""
import argparse
import json
import sys

from .seed import create_and_seed


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.crm_source", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    for name, default in (("members", 20000), ("services", 300), ("store-invoices", 35000),
                          ("service-invoices", 15000), ("receipts", 20000), ("seed", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    summary = create_and_seed(args.url, members=args.members, services=args.services,
                              store_invoices=args.store_invoices, service_invoices=args.service_invoices,
                              receipts=args.receipts, seed=args.seed)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
