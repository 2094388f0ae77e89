"""UISP refresh benchmark: uisp.refresh against seed 000's per-customer loop, same fake data, same run.

    .venv/bin/python bench/uisp_refresh.py            # 2,000 clients, then 10,000 and 50,000 (refresh only)
    .venv/bin/python bench/uisp_refresh.py --quick    # 200 clients, no scaling: checks the script works

--database-url (PostgreSQL below by default, or a sqlite:/// file) has its schema dropped and rebuilt
through the Alembic migrations. Each variant runs in a fresh subprocess (--child): its peak RSS is its own.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
from bench.harness import bench_app, fake_uisp_process, peak_rss_mb, rebuild_schema, run_to_end  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_bench"
APP_KEY = "bench-key"
API = "/crm/api/v1.0"
CONCURRENCY = 4  # UISP_CONCURRENCY: the refresh's pages in flight
SPEEDUP_TARGET, RSS_TARGET_MB = 30, 500
OTHER_TABLES = ("uisp_payment_patterns", "run_logs", "run_locks", "runs")  # emptied between variants too


# --- the fake source ----------------------------------------------------------------------------

class Fake:
    """A running fake UISP: its root URL, its pid, and the /__fake/ controls the bench needs."""

    def __init__(self, root, pid):
        self.root, self.pid = root, pid

    def prepare(self, latency_ms):
        """Same data as at start (reset), zeroed counters, the latency fault on every API request."""
        for path, body in (("reset", {}), ("faults", {"latency_ms": latency_ms})):
            requests.post(f"{self.root}/__fake/{path}", json=body, timeout=600).raise_for_status()

    def stats(self):
        return requests.get(self.root + "/__fake/stats", timeout=60).json()

    def peak_mb(self):
        status = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        return int(next(line.split()[1] for line in status if line.startswith("VmHWM"))) / 1024


@contextmanager
def fake_uisp(clients):
    """The fake UISP process, as a Fake."""
    with fake_uisp_process(clients, APP_KEY) as (url, pid):
        yield Fake(url, pid)


# --- the database -------------------------------------------------------------------------------

def make_app(url, base_url=""):
    """The Flask app on the bench database, engine threads off, UISP pointed at the fake."""
    return bench_app(url, UISP_BASE_URL=base_url, UISP_APP_KEY=APP_KEY, UISP_CONCURRENCY=CONCURRENCY)


def cache_sql(app, clear=False):
    """Empty the UISP cache, staging, patterns and runs (clear=True); else count the five cache tables' rows."""
    from sqlalchemy import func, select, text

    from app.connectors.uisp.models import CACHE_TABLES, STAGING
    from app.extensions import db
    names = [t.name for t in (*CACHE_TABLES, *STAGING.values())] + list(OTHER_TABLES)
    with app.app_context(), db.engine.begin() as conn:
        if not clear:
            return sum(conn.scalar(select(func.count()).select_from(t)) for t in CACHE_TABLES)
        pg = conn.dialect.name == "postgresql"
        for statement in [f"TRUNCATE {', '.join(names)} CASCADE"] if pg else [f"DELETE FROM {n}" for n in names]:
            conn.execute(text(statement))


# --- the variants, each run in its own process (--child) ----------------------------------------

def run_refresh(app, _args):
    """uisp.refresh for real: enqueued and awaited as `flask run-job --wait` does, by an in-process Executor."""
    run = run_to_end(app, "uisp.refresh")
    return {"seconds": (run.finished_at - run.started_at).total_seconds()}


def run_baseline(app, args):
    """Seed 000's way: list the clients, then per customer GET client, services, invoices, payments; commit."""
    from app.connectors.uisp import models as m
    from app.connectors.uisp.rows import cover_rows, customer_row, invoice_row, payment_row, service_row
    from app.extensions import db
    session = requests.Session()
    session.headers.update({"X-Auth-App-Key": APP_KEY, "Accept": "application/json"})

    def get(path, **params):
        response = session.get(app.config["UISP_BASE_URL"] + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def merge(model, row):
        db.session.merge(model(**dict(zip([c.name for c in model.__table__.columns], row))))

    started = time.perf_counter()
    ids, offset = [], 0
    while offset == len(ids):
        ids += [c["id"] for c in get("/clients", isArchived=1, limit=500, offset=offset)]
        offset += 500
    with app.app_context():
        for cid in ids[:args.baseline_clients or None]:
            merge(m.Customer, customer_row(get(f"/clients/{cid}")))
            for s in get("/clients/services", clientId=cid):
                merge(m.Service, service_row(s))
            for i in get("/invoices", clientId=cid):
                merge(m.Invoice, invoice_row(i))
            for p in get("/payments", clientId=cid):
                merge(m.Payment, payment_row(p))
                for row in cover_rows(p):
                    merge(m.PaymentCover, row)
            db.session.commit()
    return {"seconds": time.perf_counter() - started}


def run_floor(app, args):
    """The source's limit: every page the refresh reads, same client, JSON decoded, no rows built, no DB."""
    from app.connectors.uisp.client import UispClient
    from app.connectors.uisp.jobs import COLLECTIONS
    started, fetched = time.perf_counter(), 0
    with UispClient(app.config["UISP_BASE_URL"], APP_KEY, workers=args.workers) as client:
        for _kind, path, params in COLLECTIONS:
            pages = client.pages(path, **params) if args.workers == 1 else \
                (rows for _, rows in client.concurrent_pages(path, **params))
            fetched += sum(len(rows) for rows in pages)
    return {"seconds": time.perf_counter() - started, "rows": fetched}


VARIANTS = {"refresh": run_refresh, "baseline": run_baseline, "floor": run_floor}


# --- the parent: measure, print, judge ----------------------------------------------------------

def measure(app, fake, args, kind, workers=CONCURRENCY, sample=None):
    """One variant in a fresh subprocess, on a freshly reset fake and an empty cache."""
    fake.prepare(args.latency_ms)
    cache_sql(app, clear=True)
    command = [sys.executable, __file__, "--child", kind, "--database-url", args.database_url, "--fake", fake.root,
               "--workers", str(workers), "--baseline-clients", str(sample or 0)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"] = sum(n for path, n in fake.stats()["requests"].items() if path.startswith(API))
    result.setdefault("rows", cache_sql(app))  # the floor counts objects fetched; the others, rows cached
    return result


def measure_size(app, fake, args, n, with_baseline):
    """One size's variants, in the order measured, as (label, result, extrapolation factor)."""
    sample = min(args.baseline_clients or n, n)
    rows = [("uisp.refresh", measure(app, fake, args, "refresh"), 1)]
    for workers in (1, CONCURRENCY) if with_baseline else (CONCURRENCY,):
        rows.append((f"fake's floor, {workers} in flight, no DB", measure(app, fake, args, "floor", workers), 1))
    if with_baseline:
        label = "baseline (seed 000)" + (f", est. from {sample:,}" if sample < n else "")
        rows.append((label, measure(app, fake, args, "baseline", sample=sample), n / sample))
        # Measured again last; the mean of both is the yardstick, as the machine is shared and noisy.
        rows.append(("uisp.refresh, again after the others", measure(app, fake, args, "refresh"), 1))
    return rows


def table(fake, n, args, rows, refresh):
    """Print one size's table; ÷refresh is each variant's seconds over the refresh's (mean) seconds."""
    s = fake.stats()
    print(f"\n{n:,} clients: {s['services']:,} services, {s['invoices']:,} invoices, {s['payments']:,} payments; "
          f"+{args.latency_ms:g} ms per API request\n  {'variant':<38} {'clients':>7} {'seconds':>9} "
          f"{'requests':>9} {'rows':>9} {'RSS MB':>7} {'÷refresh':>8}")
    for label, r, scale in rows:
        print(f"  {label:<38} {n:>7,} {r['seconds'] * scale:>9.2f} {round(r['requests'] * scale):>9,} "
              f"{r['rows']:>9,} {r['rss_mb']:>7.0f} {r['seconds'] * scale / refresh:>8.2f}")
    print(f"  fake server peak RSS {fake.peak_mb():.0f} MB (the fake's own, not the refresh's)", flush=True)


def size(app, args, n, with_baseline):
    """One fake of n clients: measure, print; return (baseline / refresh or None, the refresh's peak RSS MB)."""
    with fake_uisp(n) as fake:
        rows = measure_size(app, fake, args, n, with_baseline)
        refreshes = [r for label, r, _ in rows if label.startswith("uisp.refresh")]
        refresh = sum(r["seconds"] for r in refreshes) / len(refreshes)
        table(fake, n, args, rows, refresh)
    peak = max(r["rss_mb"] for r in refreshes)
    if not with_baseline:
        return None, peak
    _label, base, scale = rows[-2]
    speedup = base["seconds"] * scale / refresh
    print(f"  baseline / refresh (mean of both runs) = {speedup:.1f}x" + ("  (extrapolated)" if scale > 1 else ""))
    return speedup, peak


def verdicts(args, speedup, peaks):
    """PASS/FAIL for the issue's two targets (SKIP when the size a target names was not measured)."""
    print("\ntargets")
    ok = "SKIP" if args.clients != 2000 else "PASS" if speedup >= SPEEDUP_TARGET else "FAIL"
    print(f"  {ok}  baseline / refresh >= {SPEEDUP_TARGET}x at 2,000 clients: {speedup:.1f}x at {args.clients:,}")
    ok = "SKIP" if 50000 not in peaks else "PASS" if peaks[50000] < RSS_TARGET_MB else "FAIL"
    rss = f"{peaks[50000]:.0f} MB" if 50000 in peaks else "not measured (--scale)"
    print(f"  {ok}  refresh peak RSS < {RSS_TARGET_MB} MB at 50,000 clients: {rss}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=DEFAULT_URL)
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--scale", default="10000,50000", help="client counts for refresh alone; empty to skip")
    ap.add_argument("--latency-ms", type=float, default=5)
    ap.add_argument("--baseline-clients", type=int, default=0, help="run the baseline on a sample (extrapolated)")
    ap.add_argument("--quick", action="store_true", help="200 clients, no scaling")
    ap.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    ap.add_argument("--fake", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.clients, args.scale = 200, ""
    args.scale = [int(n) for n in args.scale.split(",") if n.strip()]
    return args


def main():
    args = parse_args()
    if args.child:  # one variant; its result and this process's peak RSS as one JSON line
        result = VARIANTS[args.child](make_app(args.database_url, args.fake + API), args)
        print(json.dumps({**result, "rss_mb": peak_rss_mb()}))
        return
    print(f"syncdeck UISP refresh bench  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"db={args.database_url.rsplit('/', 1)[-1]}  cpus={os.cpu_count()}")
    app = rebuild_schema(args.database_url)
    speedup, _ = size(app, args, args.clients, with_baseline=True)
    peaks = {n: size(app, args, n, with_baseline=False)[1] for n in args.scale}
    verdicts(args, speedup, peaks)


if __name__ == "__main__":
    main()
