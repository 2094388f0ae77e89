"""Bill-stop batch benchmark: billing.bill_stop_batch against dlt, a naive ORM loop and the COPY floor, same rows.

    .venv/bin/pip install -r bench/requirements.txt    # once: dlt and pyarrow, bench-only
    .venv/bin/python bench/bill_stop.py                 # 1,000,000 CPCs (the source is seeded once, ~2-4 min)
    .venv/bin/python bench/bill_stop.py --quick         # 20,000 CPCs: checks the script works

--source-url: the fake CC&B, seeded once per size and date, with the view bench_bill_stops (the batch's
query compiled for PostgreSQL, batch id 0). --database-url: the cache, whose public schema is dropped and rebuilt
through the migrations: never point it at data you want to keep. Each variant runs in a fresh
subprocess (--child), so its peak RSS is its own.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
from bench.harness import bench_app, ensure_database, peak_rss_mb, rebuild_schema, run_to_end  # noqa: E402

SOURCE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_bench_ccb"
CACHE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_bench_billing"
CRPS, SEED, VIEW, FLOOR = 1000, 1, "bench_bill_stops", "bench_floor"
TYPES = ("bigint",) + ("text",) * 5 + ("date", "text", "int", "numeric")  # of source.COLUMNS, for the floor
DLT_DATASETS = ("bench_dlt_pyarrow", "bench_dlt_sqlalchemy")  # dataset_name = bench_dlt_<backend>
USER, PASSWORD = "bench-admin", "bench-password-9"
PAGES = {"analysis": "/billing/", "details": "/billing/?page=500&status=Bill%20Stop"}
EXPORT = "/billing/export.csv"
GETS = 50
DLT_VS_FASTEST, DLT_GOAL, FLOOR_SHARE, BATCH_RSS_MB, PAGE_P95_MS, EXPORT_RSS_MB = 1.2, 1.5, 0.5, 300, 100, 150


def ensure_source(url, cpcs, today, window):
    """Seed the fake CC&B unless its marker says it holds this population for this date; (re)create the view."""
    from sqlalchemy.dialects import postgresql

    from app.connectors.billing_db.source import COLUMNS, details_query
    from app.fakes.billing import create_and_seed
    ensure_database(url)
    engine, wanted = create_engine(url), f"crps={CRPS} cpcs={cpcs} seed={SEED} today={today}"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_seed (population text NOT NULL)"))
        seeded = conn.scalar(text("SELECT population FROM bench_seed"))
        conn.execute(text(f"DROP VIEW IF EXISTS {VIEW}"))
    if seeded != wanted:
        started = time.perf_counter()
        create_and_seed(url, crps=CRPS, cpcs=cpcs, seed=SEED, today=today)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bench_seed; INSERT INTO bench_seed VALUES (:p)"), {"p": wanted})
        print(f"source seeded ({wanted}) in {time.perf_counter() - started:.0f} s")
    sql = details_query(0, *window).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with engine.begin() as conn:
        conn.execute(text(f"CREATE VIEW {VIEW} ({', '.join(COLUMNS)}) AS {sql}"))
    engine.dispose()


def make_app(url, source_url):
    """The Flask app on the cache database, engine threads off, the batch pointed at the fake CC&B."""
    return bench_app(url, BILLING_DB_URL=source_url)


def rebuild_cache(url, source_url):
    """Drop everything and build the schema through the migrations; add the admin the pages are read as."""
    from app.auth.models import Role, User
    from app.auth.roles import ensure_default_roles
    from app import settings
    from app.extensions import db
    app = rebuild_schema(url, BILLING_DB_URL=source_url)
    with app.app_context():
        ensure_default_roles()
        user = User(username=USER, must_change_password=False,
                    roles=list(db.session.scalars(db.select(Role).where(Role.name == "admin"))))
        user.set_password(PASSWORD)
        db.session.add(user)
        settings.put("refresh_on_login_minutes", 0)  # logging in must not queue refreshes
        db.session.commit()
    reset(app)  # and the dlt datasets of earlier runs
    return app


def reset(app):
    """Empty what a variant writes: the bill-stop cache, runs, the floor table and dlt's datasets."""
    from app.extensions import db
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("TRUNCATE billing_bill_stop_details, billing_bill_stop_summary, billing_batches, run_logs, "
                          f"run_locks, runs RESTART IDENTITY CASCADE; DROP TABLE IF EXISTS {FLOOR}; "
                          f"DROP SCHEMA IF EXISTS {', '.join(DLT_DATASETS)} CASCADE"))


def count(app, table):
    from app.extensions import db
    with app.app_context(), db.engine.connect() as conn:
        return conn.scalar(text(f"SELECT count(*) FROM {table}"))


def run_batch(app, _args):
    """billing.bill_stop_batch for real: enqueued as the CLI does, executed by an in-process Executor."""
    from app.connectors.billing_db.models import BillStopBatch
    from app.extensions import db
    run = run_to_end(app, "billing.bill_stop_batch")
    with app.app_context():
        batch = db.session.scalars(db.select(BillStopBatch).where(BillStopBatch.run_id == run.id)).one()
        return {"seconds": (run.finished_at - run.started_at).total_seconds(), "rows": batch.details_count}


def run_naive(app, args):
    """The seeds' tools' way, on a sample: session.add(BillStopDetail(...)) and commit, row by row (reads excluded)."""
    from app.connectors.billing_db import partitions
    from app.connectors.billing_db.models import BillStopBatch, BillStopDetail
    from app.extensions import db
    with create_engine(args.source_url).connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {VIEW} LIMIT :n"), {"n": args.sample}).all()
    with app.app_context():
        day = date.today()
        db.session.add(batch := BillStopBatch(batch_date=day, status="bench", window_start=day, window_end=day,
                                              started_at=datetime.now()))
        db.session.commit()
        with db.engine.begin() as conn:  # the batch's (empty) partition, for the rows to land in
            partitions.create(conn, batch.id)
            partitions.index_and_attach(conn, batch.id)
        started = time.perf_counter()
        for row in rows:
            values = row._asdict() | {"batch_id": batch.id, "is_bill_stop": bool(row.is_bill_stop)}
            db.session.add(BillStopDetail(**values))
            db.session.commit()
        return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def run_dlt(app, args):
    """dlt's sql_table over the view into the cache PostgreSQL; pyarrow uses dlt's csv (COPY) loader."""
    os.environ.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=tempfile.mkdtemp(prefix="bench-dlt-"))
    import dlt.sources.sql_database
    cache = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    cache = cache.set(password=cache.password or "unused")  # dlt insists on one; trust auth ignores it
    pipeline = dlt.pipeline(pipeline_name=f"bench_{args.backend}", pipelines_dir=tempfile.mkdtemp(prefix="bench-dlt-"),
                            destination=dlt.destinations.postgres(credentials=cache.render_as_string(False)),
                            dataset_name=f"bench_dlt_{args.backend}")
    source = dlt.sources.sql_database.sql_table(credentials=args.source_url, table=VIEW, backend=args.backend)
    started = time.perf_counter()
    pipeline.run(source, **({"loader_file_format": "csv"} if args.backend == "pyarrow" else {}))
    return {"seconds": time.perf_counter() - started, "rows": count(app, f"bench_dlt_{args.backend}.{VIEW}")}


def run_floor(app, args):
    """COPY (SELECT * FROM the view) TO STDOUT on the source, piped into COPY … FROM STDIN on the cache."""
    from app.connectors.billing_db.source import COLUMNS
    src, dst = (create_engine(url).raw_connection() for url in (args.source_url, args.database_url))
    with dst.cursor() as cur:
        cur.execute(f"CREATE TABLE {FLOOR} ({', '.join(f'{c} {t}' for c, t in zip(COLUMNS, TYPES))})")
        dst.commit()
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    with os.fdopen(read_fd, "rb") as reader, dst.cursor() as cur:
        loader = threading.Thread(target=cur.copy_expert, args=(f"COPY {FLOOR} FROM STDIN", reader, 1 << 20))
        loader.start()
        with os.fdopen(write_fd, "wb") as writer, src.cursor() as out:
            out.copy_expert(f"COPY (SELECT * FROM {VIEW}) TO STDOUT", writer, 1 << 20)
        loader.join()
        dst.commit()
    seconds = time.perf_counter() - started
    for conn in (src, dst):
        conn.close()
    return {"seconds": seconds, "rows": count(app, FLOOR)}


def logged_in(app):
    """A test client logged in through the real form, as tests/conftest.py AuthActions does."""
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 302, response.status_code
    return client


def run_export(app, _args):
    """Stream the whole batch's CSV export through the test client; count its lines."""
    client = logged_in(app)
    started = time.perf_counter()
    response = client.get(EXPORT, buffered=False)
    assert response.status_code == 200, response.status_code
    lines = sum(chunk.count(b"\n") for chunk in response.iter_encoded())
    response.close()
    return {"seconds": time.perf_counter() - started, "rows": lines - 1}


VARIANTS = {"batch": run_batch, "naive": run_naive, "dlt": run_dlt, "floor": run_floor, "export": run_export}


def child_main(args):
    """Run one variant in this fresh process; print its result and peak RSS as one JSON line."""
    app = make_app(args.database_url, args.source_url)
    result = VARIANTS[args.child](app, args)
    result["rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)


def measure(app, args, kind, label, keep=False, **extra):
    """One variant on an empty cache, in a subprocess; print its table row and return its result."""
    if not keep:
        reset(app)
    command = [sys.executable, __file__, "--child", kind, "--database-url", args.database_url,
               "--source-url", args.source_url, "--sample", str(args.sample)] + [f"--{k}={v}" for k, v in extra.items()]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode:
        raise RuntimeError(f"{label} failed:\n{done.stderr[-4000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    r["rate"] = r["rows"] / r["seconds"]
    print(f"  {label:<46} {r['rows']:>9,} {r['seconds']:>8.1f} {r['rate']:>9,.0f} {r['rss_mb']:>7.0f}", flush=True)
    return r


def time_pages(app):
    """GETS timed requests per page (after 2 warm-ups) through the test client; {page: (p50, p95) in ms}."""
    client, out = logged_in(app), {}
    for name, url in PAGES.items():
        times = []
        for _ in range(GETS + 2):
            started = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append((time.perf_counter() - started) * 1000)
        times = times[2:]  # the warm-ups
        out[name] = (statistics.median(times), statistics.quantiles(times, n=20)[18])
        print(f"  {name:<10} {url:<52} p50 {out[name][0]:>7.1f} ms   p95 {out[name][1]:>7.1f} ms")
    return out


def mean_of(first, second):
    """Two runs of one variant, before and after the others: the mean rate, the larger peak RSS."""
    return {"rate": (first["rate"] + second["rate"]) / 2, "rss_mb": max(first["rss_mb"], second["rss_mb"])}


def report(r, pages, export):
    """Ratios of our batch against every yardstick, then one PASS/FAIL line per target."""
    ours = r["batch"]["rate"]
    print("\nratios (rows/s of billing.bill_stop_batch, mean of its 2 runs ÷ rows/s of …)")
    for key, label in (("dlt_default", "dlt, default backend"), ("dlt_pyarrow", "dlt, pyarrow backend"),
                       ("floor", "COPY floor (mean of its 2 runs)"), ("naive", "naive ORM, per-row commit")):
        print(f"  ours / {label:<36} {ours / r[key]['rate']:>6.2f}x")
    print("\ntargets")
    fast, share, rss, xrss = (ours / r["dlt_pyarrow"]["rate"], ours / r["floor"]["rate"], r["batch"]["rss_mb"],
                              export["rss_mb"])
    checks = [(fast >= DLT_VS_FASTEST, f"ours / dlt pyarrow >= {DLT_VS_FASTEST}x: {fast:.2f}x "
                                       f"(goal {DLT_GOAL}x: {'met' if fast >= DLT_GOAL else 'not met'})"),
              (share >= FLOOR_SHARE, f"ours / COPY floor >= {FLOOR_SHARE:.0%}: {share:.0%}"),
              (rss < BATCH_RSS_MB, f"batch peak RSS < {BATCH_RSS_MB} MB: {rss:.0f} MB (the larger of its 2 runs)")]
    checks += [(p95 < PAGE_P95_MS, f"{n} page p95 < {PAGE_P95_MS} ms: {p95:.1f} ms") for n, (_, p95) in pages.items()]
    checks.append((xrss < EXPORT_RSS_MB, f"CSV export peak RSS < {EXPORT_RSS_MB} MB: {xrss:.0f} MB"))
    for ok, line in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {line}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source-url", help=f"default {SOURCE_URL}, with _quick appended for --quick")
    ap.add_argument("--database-url", default=CACHE_URL)
    ap.add_argument("--cpcs", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=20_000, help="rows for the naive ORM baseline")
    ap.add_argument("--quick", action="store_true", help="20,000 CPCs, 2,000-row naive sample")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds any one variant may take")
    ap.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="sqlalchemy", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.cpcs, args.sample = 20_000, 2_000
    args.source_url = args.source_url or SOURCE_URL + ("_quick" if args.quick else "")
    return args


def main():
    from zoneinfo import ZoneInfo

    from app.connectors.billing_db.batch import billing_window
    from app import settings
    args = parse_args()
    if args.child:
        return child_main(args)
    print(f"syncdeck bill-stop bench  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  "
          f"load avg {os.getloadavg()[0]:.1f}  source={args.source_url.rsplit('/', 1)[-1]}  "
          f"cache={args.database_url.rsplit('/', 1)[-1]}")
    app = rebuild_cache(args.database_url, args.source_url)
    with app.app_context():  # the batch's own date and window, from its settings
        today = datetime.now(ZoneInfo(settings.cached("business_timezone"))).date()
        window = billing_window(today, settings.cached("billing_window_days"))
    ensure_source(args.source_url, args.cpcs, today, window)
    print(f"\n{args.cpcs:,} CPCs under {CRPS:,} CRPs, window {window[0]}..{window[1]}, PostgreSQL → PostgreSQL; "
          "ours and the floor run first and last, bracketing the others")
    print(f"  {'variant':<46} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'RSS MB':>7}")
    floor = measure(app, args, "floor", "COPY floor (source COPY TO → cache COPY FROM)")
    ours = measure(app, args, "batch", "billing.bill_stop_batch (ours)")
    r = {"dlt_pyarrow": measure(app, args, "dlt", "dlt sql_table, backend=pyarrow, csv loader", backend="pyarrow"),
         "dlt_default": measure(app, args, "dlt", "dlt sql_table, default backend (sqlalchemy)"),
         "naive": measure(app, args, "naive", f"naive ORM, commit per row ({args.sample:,}, writes)")}
    r["floor"] = mean_of(floor, measure(app, args, "floor", "COPY floor, again"))
    r["batch"] = mean_of(ours, measure(app, args, "batch", "billing.bill_stop_batch (ours), again; kept"))
    export = measure(app, args, "export", "CSV export of the whole batch (rows streamed)", keep=True)
    print(f"\npages with {export['rows']:,} detail rows cached, {GETS} GETs each (Flask test client, admin)")
    report(r, time_pages(app), export)


if __name__ == "__main__":
    main()
