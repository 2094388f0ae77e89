"""python -m app.fakes.qbo [--host H] [--port 0] [--client-id demo-client] [--client-secret demo-secret]
[--realms 3] [--latency-ms 0] [--rate-per-minute 500] [--concurrency 10] [--batch-per-minute 40]
[--max-batch 30] [--threads 64]: prints "listening on URL" as its first line, then serves the fake QBO until
it is killed."""
import argparse
import sys

from ..keepalive import serve_forever
from .server import create_fake_app


def add_qbo_arguments(parser):
    """The OAuth client and the per-realm limits, shared with python -m app.fakes.epos_qbo."""
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--rate-per-minute", type=int, default=500, help="requests per realm in any 60 s")
    parser.add_argument("--concurrency", type=int, default=10, help="requests in flight per realm")
    parser.add_argument("--batch-per-minute", type=int, default=40, help="batch requests per realm in any 60 s")
    parser.add_argument("--max-batch", type=int, default=30, help="items in one batch request")


def qbo_options(args):
    """create_fake_app's keyword arguments from the parsed add_qbo_arguments options."""
    return {"client_id": args.client_id, "client_secret": args.client_secret, "latency_ms": args.latency_ms,
            "rate_per_minute": args.rate_per_minute, "concurrency": args.concurrency,
            "batch_per_minute": args.batch_per_minute, "max_batch": args.max_batch}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.qbo", description="Fake QuickBooks Online API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--threads", type=int, default=64, help="requests served at once")
    parser.add_argument("--realms", type=int, default=3, help="realms 9130000000000001 ...")
    parser.add_argument("--latency-ms", type=float, default=0, help="latency of every /v3 request")
    add_qbo_arguments(parser)
    args = parser.parse_args(argv)
    serve_forever(create_fake_app(realms=args.realms, **qbo_options(args)), args.host, args.port,
                  threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
