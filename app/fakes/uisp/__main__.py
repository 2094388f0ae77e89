"""python -m app.fakes.uisp --port 8901 --clients 2000 --app-key demo-key [--seed 1]"""
import argparse
import datetime as _dt
import sys

from .data import Dataset
from .server import create_fake_app, serve


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m app.fakes.uisp", description="Fake UISP CRM API v1.0 server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8901, help="0 = pick a free port (printed)")
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--app-key", required=True)
    ap.add_argument("--read-only-key", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--today", default=None, help="YYYY-MM-DD anchor for generated dates (default: today UTC)")
    args = ap.parse_args(argv)
    today = _dt.datetime.strptime(args.today, "%Y-%m-%d").date() if args.today else None
    ds = Dataset(args.clients, args.seed, today)
    app = create_fake_app(ds, args.app_key, args.read_only_key)
    srv = serve(app, args.host, args.port)
    print("listening on http://%s:%d" % (args.host, srv.server_port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
