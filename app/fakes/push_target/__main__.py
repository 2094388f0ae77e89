"""python -m app.fakes.push_target --host 127.0.0.1 --port 0: prints "listening on URL", then serves."""
import argparse
import sys

from .server import create_fake_app, serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.push_target", description="Fake push target")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = serve(create_fake_app(), args.host, args.port)
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
