"""CRM push benchmark: crm.receipts sending 100,000 pending receipts to the fake CRM at 20 ms a request,
against seed 002's way (one request at a time, a commit per record) and against the fake's own floor
(the same creates at the same concurrency, no database at all), all in the same run.

    .venv/bin/python bench/crm_push.py              # 100,000 receipts, 32 in flight
    .venv/bin/python bench/crm_push.py --quick      # 3,000 receipts: checks the script works

--database-url (PostgreSQL by default) has its schema dropped and rebuilt through the migrations;
the fake source is seeded into a database beside it. The bridge runs in a subprocess of its own
(--child), so its peak RSS is its own. Targets: ≥ 20× the seed's loop, ≥ 70% of the floor, < 300 MB.
"""
import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
from bench.harness import bench_app, ensure_database, peak_rss_mb, rebuild_schema, run_to_end  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_bench_crm"
LOGIN = {"CRM_MOBILE": "09120000000", "CRM_PASSWORD": "bench", "CRM_CUSTOMER_ID": "1"}
SPEEDUP_TARGET, FLOOR_TARGET, RSS_TARGET_MB = 20, 0.70, 300
INCOMES = "/api/operating-incomes"


def config(args, fake_url):
    return {"CRM_BASE_URL": fake_url, "CRM_SOURCE_URL": source_url(args), "CRM_CONCURRENCY": args.concurrency,
            "CRM_BATCH_SIZE": 500, **LOGIN}


def source_url(args):
    url = make_url(args.database_url)
    return url.set(database=url.database + "_source").render_as_string(hide_password=False)


def faults(fake_url, **body):
    requests.post(f"{fake_url}/__fake/faults", json=body, timeout=60).raise_for_status()


def creates(fake_url):
    return requests.get(f"{fake_url}/__fake/truth", timeout=60).json()["creates"].get("operating-incomes", 0)


# --- set-up: the source, our schema, the contacts the receipts need --------------------------------

def set_up(args, fake_url):
    """Seed the source (receipts of ~2,000 members), rebuild our schema and sync the contacts first."""
    from app.connectors.crm.demo import DEMO_MAPPINGS
    from app.connectors.crm.models import CrmMapping
    from app.extensions import db
    from app.fakes.crm_source import create_and_seed
    ensure_database(source_url(args))
    create_and_seed(source_url(args), members=2000, services=10, store_invoices=0, service_invoices=0,
                    receipts=args.receipts, seed=11)
    app = rebuild_schema(args.database_url, **config(args, fake_url))
    with app.app_context():
        db.session.add_all(CrmMapping(kind=k, source_value=s, target_value=t)
                           for k, values in DEMO_MAPPINGS.items() for s, t in values.items())
        db.session.commit()
    faults(fake_url)
    for job_id in ("crm.dedupe_members", "crm.contacts"):
        run_to_end(app, job_id)
    return app


def receipt_records(app, limit=None):
    """The receipts as the bridge builds them (contacts resolved), in IDD order."""
    from app.connectors.crm import records as rec, source
    with app.app_context(), source.connect(app.config["CRM_SOURCE_URL"]) as conn:
        facts, out = rec.RunFacts.load(), []
        for rows in source.in_chunks(conn, source.rows_from(source.receipt), source.receipt.c.IDD, 5000):
            out += rec.receipt_records(rows, facts)
            if limit and len(out) >= limit:
                return out[:limit]
        return out


# --- the variants ---------------------------------------------------------------------------------

def seed_loop(app, fake_url, sample):
    """Seed 002's way: each receipt posted alone, its status written and committed before the next."""
    from sqlalchemy import text

    from app.extensions import db
    session, token = requests.Session(), _login(fake_url)
    records = [r for r in receipt_records(app, sample * 2) if not r["missing"]][:sample]
    started = time.perf_counter()
    with app.app_context():
        for record in records:
            response = session.post(fake_url + INCOMES, json={**record["body"], "externalId": f"seed-{record['key']}"},
                                    headers={"Authorization": f"Bearer {token}"}, timeout=30)
            response.raise_for_status()
            db.session.execute(text("INSERT INTO sync_records (connector, stream, source_key, version, status, "
                                    "target_id, message, attempts, client_key, first_seen_at, updated_at) VALUES "
                                    "('bench', 'seed', :k, '', 'synced', :t, '', 1, '', now(), now())"),
                               {"k": str(record["key"]), "t": str(response.json()["id"])})
            db.session.commit()
    return {"seconds": time.perf_counter() - started, "records": len(records)}


def floor(app, fake_url, workers):
    """The fake's own limit: the same creates at the same concurrency, bodies built beforehand, no DB."""
    bodies = [{**r["body"], "externalId": f"floor-{r['key']}"} for r in receipt_records(app) if not r["missing"]]
    session, token = requests.Session(), _login(fake_url)
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))
    headers = {"Authorization": f"Bearer {token}"}

    def post(body):
        session.post(fake_url + INCOMES, json=body, headers=headers, timeout=30).raise_for_status()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, bodies))
    return {"seconds": time.perf_counter() - started, "records": len(bodies)}


def bridge(args, fake_url):
    """crm.receipts for real, in a child process: its own seconds and peak RSS."""
    command = [sys.executable, __file__, "--child", "--database-url", args.database_url, "--fake", fake_url,
               "--concurrency", str(args.concurrency), "--receipts", str(args.receipts)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the bridge failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(args):
    app = bench_app(args.database_url, **config(args, args.fake))
    run = run_to_end(app, "crm.receipts")
    print(json.dumps({"seconds": (run.finished_at - run.started_at).total_seconds(),
                      "records": run.counters["pushed"], "rss_mb": peak_rss_mb()}))


def _login(fake_url):
    body = {"mobile": LOGIN["CRM_MOBILE"], "password": LOGIN["CRM_PASSWORD"], "customerId": LOGIN["CRM_CUSTOMER_ID"]}
    return requests.post(f"{fake_url}/api/auth/login", json=body, timeout=30).json()["access_token"]


# --- the parent -----------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed-sample", type=int, default=1000, help="receipts the seed's loop sends (rate × all)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--fake", default="")
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.quick:
        args.receipts, args.seed_sample = 3000, 200
    from app.connectors.base import FakeSource
    from app.fakes.launch import running
    fake = FakeSource(server=("-m", "app.fakes.crm", "--mobile", LOGIN["CRM_MOBILE"], "--password",
                              LOGIN["CRM_PASSWORD"], "--customer-id", LOGIN["CRM_CUSTOMER_ID"]))
    with running(fake) as fake_url:
        app = set_up(args, fake_url)
        faults(fake_url, latency_ms=args.latency_ms)
        measured = {"bridge": bridge(args, fake_url)}
        measured["floor"] = floor(app, fake_url, args.concurrency)
        measured["seed"] = seed_loop(app, fake_url, args.seed_sample)
        report(args, measured)


def report(args, m):
    rate = {k: v["records"] / v["seconds"] for k, v in m.items()}
    print(f"\n{args.receipts:,} receipts pending, +{args.latency_ms:g} ms per request, {args.concurrency} in flight")
    print(f"  {'variant':<44} {'records':>8} {'seconds':>9} {'records/s':>10}")
    labels = {"bridge": "crm.receipts (the bridge)", "floor": f"fake's floor, {args.concurrency} in flight, no DB",
              "seed": "seed 002's loop (1 at a time, commit each)"}
    for key in ("bridge", "floor", "seed"):
        print(f"  {labels[key]:<44} {m[key]['records']:>8,} {m[key]['seconds']:>9.2f} {rate[key]:>10.1f}")
    speedup, of_floor, rss = rate["bridge"] / rate["seed"], rate["bridge"] / rate["floor"], m["bridge"]["rss_mb"]
    print(f"\n  bridge ÷ seed loop: {speedup:.1f}×  (target ≥ {SPEEDUP_TARGET}×) "
          f"{'OK' if speedup >= SPEEDUP_TARGET else 'MISSED'}")
    print(f"  bridge ÷ floor:     {of_floor:.0%}  (target ≥ {FLOOR_TARGET:.0%}) "
          f"{'OK' if of_floor >= FLOOR_TARGET else 'MISSED'}")
    print(f"  bridge peak RSS:    {rss:.0f} MB  (target < {RSS_TARGET_MB} MB) {'OK' if rss < RSS_TARGET_MB else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
