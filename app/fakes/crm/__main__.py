"""python -m app.fakes.crm [--host H] [--port 0] [--mobile M] [--password P] [--customer-id C] [--latency-ms N]:
prints "listening on URL" as its first line, then serves the fake CRM until it is killed."""
import argparse
import sys

from ..keepalive import serve_forever
from .server import create_fake_app


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.crm", description="Fake Asanito-style CRM API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--mobile", default="09120000000", help="the login's mobile")
    parser.add_argument("--password", default="demo")
    parser.add_argument("--customer-id", default="1001")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="latency of every /api/* request until the first faults call (and after reset)")
    args = parser.parse_args(argv)
    credentials = {"mobile": args.mobile, "password": args.password, "customerId": args.customer_id}
    serve_forever(create_fake_app(credentials, latency_ms=args.latency_ms), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
