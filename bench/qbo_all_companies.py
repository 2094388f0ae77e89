"""EPOS→QBO all-companies benchmark: epos_qbo.sync_all posting 20 companies × ~300 receipts of one trading
date to the fake QuickBooks (50 ms a request, QBO's real per-realm limits enforced by the fake), against the
seed's way (one company after another, one receipt per request) and the throttle floor, in the same run.

    .venv/bin/python bench/qbo_all_companies.py                      # 20 companies × 300 a day: ~5 min
    .venv/bin/python bench/qbo_all_companies.py --quick              # 5 × 60: checks the script works (< 2 min)
    .venv/bin/python bench/qbo_all_companies.py --seed-companies 4   # the seed's way on 4, scaled to all 20

The fake pair (python -m app.fakes.epos_qbo) runs as a subprocess, seeded with one trading day D
(--end-date D, timezone UTC); the app's business timezone is UTC with cutoff 00:00, so trading date D is
EPOS's local day D 00:00–24:00 (the fake's after-midnight tail of D, till 03:00, belongs to D+1 here and is
not synced). What EPOS holds for that window (GET /epos/_fake/truth) is what each realm must end up with.

- the connector: --database-url (PostgreSQL `syncdeck_bench_qbo` by default) has its schema dropped and
  rebuilt, the companies onboarded as connections (co01.. → realms 9130000000000001..), then
  epos_qbo.sync_all for D runs in a child process (--child) with an in-process Executor; seconds = the
  run's started_at → finished_at; peak RSS = the child's VmHWM. The child times the connector's phases
  by wrapping its functions (perf_counter around each call: negligible next to a 50 ms request).
  Checked: the run succeeded, every realm holds exactly the EPOS count, no DocNumber twice, MATCH for
  every company in epos_qbo_reconciliations.
- no-DB replay (diagnostic, no target; --no-replay skips it): the same requests as the connector (EPOS
  pages, 2 queries, the batches of 30 with QBO_CONCURRENCY in flight, 2 queries), every company at once,
  bodies built by receipt_for, nothing written anywhere. What this fake on this machine allows.
- the seed's way: after /qbo/_fake/reset and /epos/_fake/reset, a plain loop, one company after
  another: GET that company's day from EPOS page by page (Basic auth), then POST each receipt alone
  (salesreceipt, refundreceipt for a Refund, voids skipped) with "at-<realm>-0", sleeping Retry-After on
  a 429. One keep-alive session per company (kinder to it than a new connection a request).
  --seed-companies N times it on the first N companies and scales it by (all receipts ÷ its receipts).

The throttle floor: the least time the fake's limits (GET /qbo/_fake/limits) allow for the connector's
work. With L the latency in force, c the requests in flight per realm, bpm the batches per sliding 60 s,
rpm the requests per sliding 60 s, and per realm R receipts, B = ceil(R / max_batch) batches, P EPOS pages
and Q queries (P from the EPOS truth's requests, Q = the QBO truth's requests − throttled − batches, both
of the connector's run), half of the queries before posting and half after (the reconcile):

    batches(B)  = ceil(B / c) · L                                        if B ≤ bpm
                = 60 · (ceil(B / bpm) − 1) + ceil(B_last / c) · L        else (B_last: the last window's share)
    realm       = max(P · L + ceil(Q_pre / c) · L + batches(B) + ceil(Q_post / c) · L,
                      60 · (ceil((Q + B) / rpm) − 1) + L)
    floor       = max over realms of realm     (realms run side by side: --parallel ≥ companies)

EPOS pages are sequential (a short page is the last); queries before posting, batches, reconcile after,
each step waiting on the one before. Targets (PASS/MISSED): connector ≥ 10× the seed's way; connector ÷
floor ≤ 1.3.
"""
import argparse
import functools
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
from bench.harness import bench_app, peak_rss_mb, rebuild_schema, run_job  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_bench_qbo"
CLIENT = ("bench-client", "bench-secret")
DEFAULT_DATE = date(2026, 11, 30)
SPEEDUP_TARGET, FLOOR_TARGET = 10, 1.3
OPTIONS = {"doc_prefix": "EPOS-", "qbo_item": "1", "qbo_deposit_account": "35"}
EPOS_PAGE = 200
MINOR_VERSION = 75


def realm(n):
    return f"91300000000000{n:02d}"


def company(n):
    return f"co{n:02d}"


def trading_window(day):
    """EPOS's local window of trading date `day` with cutoff 00:00: [D 00:00, D+1 00:00)."""
    return f"{day.isoformat()}T00:00:00", f"{(day + timedelta(days=1)).isoformat()}T00:00:00"


def config(args, fake_url):
    return {"EPOS_BASE_URL": f"{fake_url}/epos", "QBO_API_URL": f"{fake_url}/qbo",
            "QBO_TOKEN_URL": f"{fake_url}/qbo/oauth2/v1/tokens/bearer", "QBO_CLIENT_ID": CLIENT[0],
            "QBO_CLIENT_SECRET": CLIENT[1], "QBO_CONCURRENCY": args.qbo_concurrency,
            "SECRET_KEY": "bench-qbo", "CONNECTIONS_KEY": ""}  # parent and child read the same secrets


class Fakes:
    """The fake pair's controls and truth."""

    def __init__(self, url):
        self.url, self.epos, self.qbo = url, f"{url}/epos", f"{url}/qbo"

    def _call(self, method, url, **kwargs):
        response = requests.request(method, url, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self):
        self._call("POST", f"{self.epos}/_fake/reset")
        self._call("POST", f"{self.qbo}/_fake/reset")

    def epos_truth(self, start=None, end=None):
        params = {"startDate": start, "endDate": end} if start else {}
        return self._call("GET", f"{self.epos}/_fake/truth", params=params)["companies"]

    def qbo_truth(self):
        return self._call("GET", f"{self.qbo}/_fake/truth")["realms"]

    def limits(self):
        return self._call("GET", f"{self.qbo}/_fake/limits")


# --- set-up: our schema, the companies, the settings ---------------------------------------------

def onboard(n):
    """Company coNN as a connection (inside an app context), with the fake's starting tokens."""
    from app.connectors.base.connections import Connection, write_secrets, write_settings
    from app.extensions import db
    conn = Connection(connector="epos_qbo", key=company(n), display_name=f"Company {n}", active=True, version=1,
                      settings={}, secrets="")
    db.session.add(conn)
    write_settings(conn, {"qbo_realm_id": realm(n), **OPTIONS})
    write_secrets(conn, {"epos_api_key": f"key-{company(n)}", "epos_api_secret": f"secret-{company(n)}",
                         "qbo_refresh_token": f"rt-{realm(n)}-0", "qbo_access_token": f"at-{realm(n)}-0"})
    return conn


def set_up(args, fake_url):
    from app import settings
    from app.extensions import db
    app = rebuild_schema(args.database_url, **config(args, fake_url))
    with app.app_context():
        settings.put("business_timezone", "UTC")
        settings.put("day_cutoff", "00:00")
        settings.put("epos_qbo_parallel", args.parallel)
        settings.put("epos_qbo_stagger_seconds", 0)
        for n in range(1, args.companies + 1):
            onboard(n)
        db.session.commit()
    return app


# --- the connector, in a child process ------------------------------------------------------------

def connector(args, fake_url):
    command = [sys.executable, __file__, "--child", "--database-url", args.database_url, "--fake", fake_url,
               "--qbo-concurrency", str(args.qbo_concurrency), "--date", args.date.isoformat(),
               "--fake-pid", str(args.fake_pid)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the connector's child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(args):
    app = bench_app(args.database_url, **config(args, args.fake))
    profile = Profile()
    profile.install()
    cpu = CpuMeter(args.fake_pid)
    run = run_job(app, "epos_qbo.sync_all", {"date": args.date.isoformat()})
    cpu.stop()
    print(json.dumps({"run_id": run.id, "status": run.status, "reason": run.reason, "summary": run.summary,
                      "seconds": (run.finished_at - run.started_at).total_seconds(),
                      "started_at": run.started_at.timestamp(), "finished_at": run.finished_at.timestamp(),
                      "rss_mb": peak_rss_mb(), "profile": profile.report(), "cpu": cpu.report()}))


def _stat(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, …


def _children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(entry.name)[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def _cpu_seconds(pid):
    try:
        parts = _stat(pid)
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class CpuMeter:
    """CPU seconds from now to stop(): this process's, the fake's (by pid) and the machine's busy share."""

    def __init__(self, fake_pid):
        # gunicorn's arbiter (the pid launched) forks the worker that serves: count both
        self.fake_pids = [fake_pid, *_children(fake_pid)] if fake_pid else []
        self.start = self._sample()

    def _sample(self):
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        fake = sum(_cpu_seconds(pid) for pid in self.fake_pids)
        return {"wall": time.perf_counter(), "self": time.process_time(), "fake": fake,
                "busy": sum(fields) - fields[3] - fields[4], "all": sum(fields)}

    def stop(self):
        self.end = self._sample()
        return self

    def report(self):
        d = {k: self.end[k] - self.start[k] for k in self.start}
        return {"wall": d["wall"], "self": d["self"], "fake": d["fake"], "busy": d["busy"] / max(1, d["all"]),
                "cores": os.cpu_count()}


class Profile:
    """Seconds spent in the connector's functions, per company (the thread running its sync_day) and in all."""

    def __init__(self):
        self.lock, self.local = threading.Lock(), threading.local()
        self.per_company = defaultdict(lambda: defaultdict(float))  # company -> label -> seconds
        self.totals = defaultdict(lambda: [0, 0.0])                 # label -> [calls, seconds]
        self.samples = defaultdict(list)                            # label -> seconds of each call
        self.spans = {}                                             # company -> (start, end) epoch

    def add(self, label, seconds, sample=False):
        key = getattr(self.local, "company", None)
        with self.lock:
            self.totals[label][0] += 1
            self.totals[label][1] += seconds
            if key is not None:
                self.per_company[key][label] += seconds
            if sample:
                self.samples[label].append(seconds)

    def wrap(self, owner, name, label, sample=False):
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*a, **kw):
            started = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                self.add(label, time.perf_counter() - started, sample)
        setattr(owner, name, timed)

    def install(self):
        from sqlalchemy.orm import Session
        from sqlalchemy.pool import QueuePool

        from app.connectors.epos_qbo import epos, jobs, ledger, qbo, sync
        original_sync_day = jobs.sync_day

        def sync_day(ctx, conn, *args, **kwargs):  # the company thread: everything below is charged to it
            self.local.company, started = conn.key, time.time()
            try:
                return original_sync_day(ctx, conn, *args, **kwargs)
            finally:
                self.per_company[conn.key]["sync_day (whole)"] = time.time() - started
                self.spans[conn.key] = (started, time.time())
                self.local.company = None
        jobs.sync_day = sync_day
        self.wrap(epos.EposClient, "_page", "EPOS page GET")
        self.wrap(sync, "_receipts", "build receipts")
        self.wrap(ledger, "claim", "ledger claim (insert + select + commit)")
        self.wrap(sync, "_qbo_receipts", "QBO queries (before + reconcile)")
        self.wrap(sync, "_post", "post: all batches of the company")
        self.wrap(ledger, "record", "ledger record (update + commit)")
        self.wrap(sync, "_store", "store reconciliation (commit)")
        self.wrap(sync, "_send_batch", "one batch request (pool thread)", sample=True)
        self.wrap(qbo.QboClient, "_send", "QBO HTTP send (any)")
        self.wrap(Session, "commit", "Session.commit (any thread)")
        self.wrap(QueuePool, "_do_get", "DB pool checkout (any thread)")

    def report(self):
        labels = sorted({label for phases in self.per_company.values() for label in phases})
        phases = {label: [self.per_company[k].get(label, 0.0) for k in self.per_company] for label in labels}
        return {"phases": {label: {"mean": statistics.mean(v), "max": max(v)} for label, v in phases.items()},
                "totals": {label: {"calls": c, "seconds": s} for label, (c, s) in self.totals.items()},
                "batch": _spread(self.samples["one batch request (pool thread)"]),
                "spans": self.spans}


def _spread(values):
    if not values:
        return {}
    ordered = sorted(values)
    return {"n": len(ordered), "p50": ordered[len(ordered) // 2], "p95": ordered[int(len(ordered) * 0.95)],
            "max": ordered[-1], "mean": statistics.mean(ordered)}


# --- checks: what the realms hold afterwards ------------------------------------------------------

def check_realms(fakes, expected, day):
    """Every realm of `expected` ({n: count}) holds exactly that many receipts of `day`, no DocNumber twice;
    returns the QBO truth of those realms."""
    truth, problems = fakes.qbo_truth(), []
    for n, count in expected.items():
        held = truth[realm(n)]["receipts"]
        docs = [(r["type"], r["DocNumber"]) for r in held]
        if len(held) != count:
            problems.append(f"realm {realm(n)} holds {len(held)} receipts, EPOS {count}")
        if len(set(docs)) != len(docs):
            problems.append(f"realm {realm(n)}: {len(docs) - len(set(docs))} DocNumbers twice")
        if any(r["TxnDate"] != day.isoformat() for r in held):
            problems.append(f"realm {realm(n)}: receipts dated other than {day}")
    if problems:
        raise AssertionError("; ".join(problems[:10]))
    return {n: truth[realm(n)] for n in expected}


def check_reconciliations(app, run_id, companies):
    from sqlalchemy import select

    from app.connectors.epos_qbo.models import EposQboReconciliation
    from app.extensions import db
    with app.app_context():
        rows = db.session.scalars(select(EposQboReconciliation).where(EposQboReconciliation.run_id == run_id)).all()
        bad = [f"{r.company}: {r.status or 'unreconciled'} succeeded={r.succeeded} {r.message[:100]}"
               for r in rows if r.status != "MATCH" or not r.succeeded]
        missing = {company(n) for n in range(1, companies + 1)} - {r.company for r in rows}
        db.session.rollback()
    if bad or missing:
        raise AssertionError(f"reconciliations: {bad[:5]} missing {sorted(missing)}")
    return len(rows)


# --- EPOS and QBO over plain HTTP (the seed's way and the replay) ---------------------------------

def epos_day(session, fakes, n, day):
    """Company n's transactions of trading date `day`, page after page."""
    start, end = trading_window(day)
    rows, page = [], 1
    while True:
        response = session.get(f"{fakes.epos}/api/v4/Transaction/GetByDate", timeout=60,
                               params={"startDate": start, "endDate": end, "page": page},
                               auth=(f"key-{company(n)}", f"secret-{company(n)}"))
        response.raise_for_status()
        rows += response.json()
        if len(response.json()) < EPOS_PAGE:
            return rows
        page += 1


def receipts_of(transactions, day):
    """The receipts of the day's transactions, built as the connector builds them (voids left out)."""
    from app.connectors.epos_qbo.receipts import is_posted, receipt_for
    return [receipt_for(t, day, OPTIONS) for t in transactions if is_posted(t)]


def qbo_post(session, url, n, **kwargs):
    """POST (or GET with method=...) to realm n, sleeping Retry-After on each 429 (the fake counts those in its
    truth's `throttled`); the answer's JSON."""
    method = kwargs.pop("method", "POST")
    headers = {"Authorization": f"Bearer at-{realm(n)}-0", "Accept": "application/json"}
    while True:
        response = session.request(method, url, headers=headers, timeout=60, **kwargs)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("Retry-After") or 1))
    if response.status_code != 200:
        raise RuntimeError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def seed_way(fakes, companies, day):
    """One company after another; each receipt posted alone, in sequence."""
    started, posted = time.perf_counter(), 0
    for n in range(1, companies + 1):
        with requests.Session() as session:
            session.trust_env = False
            for receipt in receipts_of(epos_day(session, fakes, n, day), day):
                path = "refundreceipt" if receipt.kind == "RefundReceipt" else "salesreceipt"
                qbo_post(session, f"{fakes.qbo}/v3/company/{realm(n)}/{path}", n, json=receipt.body,
                         params={"minorversion": MINOR_VERSION})
                posted += 1
    return {"seconds": time.perf_counter() - started, "receipts": posted}


def replay(fakes, companies, day, concurrency):
    """The connector's requests with nothing else: every company at once, batches `concurrency` in flight."""
    from app.connectors.epos_qbo.qbo import MAX_BATCH

    def query(session, n, kind):
        statement = (f"select * from {kind} where TxnDate = '{day.isoformat()}' STARTPOSITION 1 "
                     f"MAXRESULTS 1000")
        qbo_post(session, f"{fakes.qbo}/v3/company/{realm(n)}/query", n, method="GET",
                 params={"query": statement, "minorversion": MINOR_VERSION})

    def one(n):
        with requests.Session() as session:
            session.trust_env = False
            session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
            receipts = receipts_of(epos_day(session, fakes, n, day), day)
            for kind in ("SalesReceipt", "RefundReceipt"):
                query(session, n, kind)
            batches = [receipts[i:i + MAX_BATCH] for i in range(0, len(receipts), MAX_BATCH)]

            def post(batch):
                body = {"BatchItemRequest": [{"bId": str(b), "operation": "create", r.kind: r.body}
                                             for b, r in enumerate(batch, 1)]}
                request_id = hashlib.sha1("|".join(r.epos_id for r in batch).encode()).hexdigest()
                qbo_post(session, f"{fakes.qbo}/v3/company/{realm(n)}/batch", n, json=body,
                         params={"requestid": request_id, "minorversion": MINOR_VERSION})
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(post, batches))
            for kind in ("SalesReceipt", "RefundReceipt"):
                query(session, n, kind)
            return len(receipts)
    started = time.perf_counter()
    with ThreadPoolExecutor(companies) as pool:
        posted = sum(pool.map(one, range(1, companies + 1)))
    return {"seconds": time.perf_counter() - started, "receipts": posted}


# --- the throttle floor ---------------------------------------------------------------------------

def throttle_floor(limits, expected, qbo_truth, epos_truth):
    """The floor (see the module docstring) and each realm's inputs and seconds."""
    lat, c = limits["latency_ms_in_force"] / 1000, limits["concurrency"]
    bpm, rpm, size, window = limits["batch_per_minute"], limits["rate_per_minute"], limits["max_batch"], \
        limits["window_seconds"]
    realms = {}
    for n, receipts in expected.items():
        t = qbo_truth[n]
        batches = math.ceil(receipts / size)
        queries = t["requests"] - t["throttled"] - t["batches"]
        pages = epos_truth[company(n)]["requests"]
        q_pre, q_post = math.ceil(queries / 2), queries // 2
        if batches <= bpm:
            posting = math.ceil(batches / c) * lat
        else:
            windows = math.ceil(batches / bpm)
            posting = window * (windows - 1) + math.ceil((batches - bpm * (windows - 1)) / c) * lat
        terms = (pages * lat, math.ceil(q_pre / c) * lat, posting, math.ceil(q_post / c) * lat)
        rate_bound = window * (math.ceil((queries + batches) / rpm) - 1) + lat
        realms[n] = {"R": receipts, "B": batches, "P": pages, "Q": queries, "terms": terms,
                     "rate_bound": rate_bound, "seconds": max(sum(terms), rate_bound)}
    worst = max(realms, key=lambda n: realms[n]["seconds"])
    return realms[worst]["seconds"], worst, realms


# --- the parent -----------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--per-day", type=int, default=300, help="EPOS transactions a day per company (±20%%)")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--date", type=date.fromisoformat, default=DEFAULT_DATE, help="the trading date D")
    parser.add_argument("--parallel", type=int, default=20, help="setting epos_qbo_parallel")
    parser.add_argument("--qbo-concurrency", type=int, default=10, help="QBO_CONCURRENCY")
    parser.add_argument("--seed-companies", type=int, default=None,
                        help="time the seed's way on the first N companies and scale (default: all)")
    parser.add_argument("--no-replay", action="store_true", help="skip the no-DB replay")
    parser.add_argument("--quick", action="store_true", help="5 companies × 60 a day")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--fake", default="")
    parser.add_argument("--fake-pid", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.quick:
        args.companies, args.per_day = 5, 60
    args.seed_companies = min(args.seed_companies or args.companies, args.companies)
    from app.connectors.base import FakeSource
    from app.fakes.launch import start
    fake = FakeSource(server=("-m", "app.fakes.epos_qbo"))
    extra = ("--companies", args.companies, "--days", 1, "--per-day", args.per_day, "--end-date",
             args.date.isoformat(), "--latency-ms", args.latency_ms, "--timezone", "UTC", "--client-id", CLIENT[0],
             "--client-secret", CLIENT[1], "--rate-per-minute", 500, "--concurrency", 10, "--batch-per-minute", 40)
    proc, fake_url = start(fake, *extra)
    args.fake_pid = proc.pid
    try:
        fakes = Fakes(fake_url)
        m = {"epos": epos_facts(fakes, args)}
        expected = m["epos"]["expected"]
        app = set_up(args, fake_url)
        fakes.reset()
        m["connector"] = connector(args, fake_url)
        if m["connector"]["status"] != "succeeded":
            raise AssertionError(f"run {m['connector']['run_id']} {m['connector']['status']}: "
                                 f"{m['connector']['reason']}")
        m["connector_qbo"] = check_realms(fakes, expected, args.date)
        m["connector_epos"] = fakes.epos_truth()
        m["reconciled"] = check_reconciliations(app, m["connector"]["run_id"], args.companies)
        m["limits"] = fakes.limits()
        m["floor"] = throttle_floor(m["limits"], expected, m["connector_qbo"], m["connector_epos"])
        if not args.no_replay:
            fakes.reset()
            cpu = CpuMeter(proc.pid)
            m["replay"] = replay(fakes, args.companies, args.date, args.qbo_concurrency)
            m["replay"]["cpu"] = cpu.stop().report()
            m["replay_qbo"] = check_realms(fakes, expected, args.date)
        fakes.reset()
        seed_expected = {n: expected[n] for n in range(1, args.seed_companies + 1)}
        m["seed"] = seed_way(fakes, args.seed_companies, args.date)
        m["seed_qbo"] = check_realms(fakes, seed_expected, args.date)
        m["seed_epos"] = fakes.epos_truth()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    report(args, m)


def epos_facts(fakes, args):
    """What EPOS holds for trading date D per company, and that its seed is day D (nothing before it)."""
    start, end = trading_window(args.date)
    window = fakes.epos_truth(start, end)
    before = fakes.epos_truth(f"{(args.date - timedelta(days=1)).isoformat()}T00:00:00", start)
    everything = fakes.epos_truth()
    if any(before[company(n)]["count"] + before[company(n)]["voids"] for n in range(1, args.companies + 1)):
        raise AssertionError(f"EPOS holds transactions before {args.date}: its seed is not day D")
    if not all(window[company(n)]["count"] for n in range(1, args.companies + 1)):
        raise AssertionError(f"a company has no transactions on {args.date}")
    expected = {n: window[company(n)]["count"] for n in range(1, args.companies + 1)}
    seeded = sum(everything[company(n)]["count"] for n in expected)
    voids = sum(window[company(n)]["voids"] for n in expected)
    return {"expected": expected, "seeded": seeded, "voids": voids}


def _requests(truths):
    return sum(t["requests"] for t in truths.values()), sum(t["throttled"] for t in truths.values())


def _epos_requests(truth, companies):
    return sum(truth[company(n)]["requests"] for n in range(1, companies + 1))


def report(args, m):
    expected, total = m["epos"]["expected"], sum(m["epos"]["expected"].values())
    counts = list(expected.values())
    limits, con = m["limits"], m["connector"]
    print(f"\nEPOS→QBO all companies: {args.companies} companies, trading date {args.date} (UTC, cutoff 00:00), "
          f"+{args.latency_ms:g} ms a request")
    print(f"  QBO limits per realm (/qbo/_fake/limits): {limits['concurrency']} in flight, "
          f"{limits['rate_per_minute']} requests and {limits['batch_per_minute']} batches per "
          f"{limits['window_seconds']:g} s, {limits['max_batch']} per batch; latency in force "
          f"{limits['latency_ms_in_force']:g} ms")
    print(f"  EPOS holds {total:,} receipts to post for {args.date} (per company min {min(counts)}, mean "
          f"{statistics.mean(counts):.0f}, max {max(counts)}; {m['epos']['voids']} voids skipped); the fake seeded "
          f"{m['epos']['seeded'] - total:,} more after midnight (its 03:00 tail: trading date "
          f"{args.date + timedelta(days=1)} here, not synced)")
    print(f"  connector: epos_qbo_parallel={args.parallel}, stagger 0 s, QBO_CONCURRENCY={args.qbo_concurrency}; "
          f"run {con['run_id']} succeeded, {m['reconciled']} reconciliations all MATCH, every realm holds exactly "
          f"EPOS's count, no DocNumber twice")

    seed = m["seed"]
    scale = total / seed["receipts"]
    seed_seconds = seed["seconds"] * scale
    floor, worst, realms = m["floor"]
    c_req, c_429 = _requests(m["connector_qbo"])
    s_req, s_429 = _requests(m["seed_qbo"])
    rows = [("epos_qbo.sync_all (the connector)", total, con["seconds"], c_req, c_429,
             _epos_requests(m["connector_epos"], args.companies))]
    if "replay" in m:
        r_req, r_429 = _requests(m["replay_qbo"])
        rows.append(("no-DB replay of its requests (diagnostic)", m["replay"]["receipts"], m["replay"]["seconds"],
                     r_req, r_429, None))
    seed_label = "seed's way: 1 company, 1 receipt a request"
    rows.append((seed_label + ("" if scale == 1 else " (measured)"), seed["receipts"], seed["seconds"], s_req, s_429,
                 _epos_requests(m["seed_epos"], args.seed_companies)))
    if scale != 1:
        rows.append((f"seed's way SCALED ×{scale:.2f} to all {args.companies}", total, seed_seconds, None, None, None))
    rows.append(("throttle floor (limits + latency)", total, floor, None, None, None))
    print(f"\n  {'way':<48} {'receipts':>8} {'seconds':>9} {'receipts/s':>10} {'QBO req':>8} {'429s':>5} "
          f"{'EPOS req':>8}")
    for label, receipts, seconds, req, throttled, epos_req in rows:
        cells = [f"{v:>{w},}" if v is not None else f"{'':>{w}}" for v, w in ((req, 8), (throttled, 5),
                                                                              (epos_req, 8))]
        print(f"  {label:<48} {receipts:>8,} {seconds:>9.2f} {receipts / seconds:>10.1f} {' '.join(cells)}")

    speedup, of_floor = seed_seconds / con["seconds"], con["seconds"] / floor
    print(f"\n  seed's way ÷ connector: {speedup:7.1f}×  (target ≥ {SPEEDUP_TARGET}×"
          f"{'' if scale == 1 else f'; seed time scaled ×{scale:.2f} from {args.seed_companies} companies'}) "
          f"{'PASS' if speedup >= SPEEDUP_TARGET else 'MISSED'}")
    print(f"  connector ÷ floor:      {of_floor:7.2f}   (target ≤ {FLOOR_TARGET}) "
          f"{'PASS' if of_floor <= FLOOR_TARGET else 'MISSED'}")
    if "replay" in m:
        print(f"  connector ÷ replay:     {con['seconds'] / m['replay']['seconds']:7.2f}   (no target: what the "
              f"database and the run add over the bare requests)")
    print(f"  connector peak RSS:     {con['rss_mb']:7.0f} MB")

    w = realms[worst]
    lat, c = limits["latency_ms_in_force"] / 1000, limits["concurrency"]
    print(f"\n  floor = max over realms of P·L + ceil(Q_pre/c)·L + batches(B) + ceil(Q_post/c)·L "
          f"(batches(B) = ceil(B/c)·L while B ≤ bpm={limits['batch_per_minute']}, else 60 s a window more)")
    print(f"    L = {lat * 1000:g} ms, c = {c}, max_batch = {limits['max_batch']}, rpm = {limits['rate_per_minute']}; "
          f"worst realm {realm(worst)}: R = {w['R']}, B = ceil({w['R']}/{limits['max_batch']}) = {w['B']}, "
          f"P = {w['P']} EPOS pages, Q = {w['Q']} queries")
    epos, pre, posting, post = w["terms"]
    print(f"    = max(EPOS {epos:.3f} + queries {pre:.3f} + batches {posting:.3f} + reconcile {post:.3f}, "
          f"rate window {w['rate_bound']:.3f}) = {w['seconds']:.3f} s "
          f"(all realms: {min(r['seconds'] for r in realms.values()):.3f}–{w['seconds']:.3f} s)")
    profile_report(con)
    cpu_line("connector run", con["cpu"], "connector process")
    if "replay" in m:
        cpu_line("no-DB replay", m["replay"]["cpu"], "bench process (replay)")


def cpu_line(what, cpu, name):
    print(f"    CPU during the {what} ({cpu['wall']:.2f} s wall, {cpu['cores']} cores): {name} {cpu['self']:.2f} s, "
          f"fake pair {cpu['fake']:.2f} s, machine busy {cpu['busy']:.0%} of all cores")


def profile_report(con):
    prof = con["profile"]
    spans = prof["spans"].values()
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    print(f"\n  Where the connector's {con['seconds']:.2f} s go (child process, perf_counter around its functions):")
    print(f"    run started → first company starts {first - con['started_at']:6.2f} s;  companies' span "
          f"{last - first:6.2f} s;  last company ends → run finished {con['finished_at'] - last:6.2f} s")
    print(f"    {'per company (its sync_day thread)':<52} {'mean s':>8} {'max s':>8}")
    order = ["sync_day (whole)", "EPOS page GET", "build receipts", "ledger claim (insert + select + commit)",
             "QBO queries (before + reconcile)", "post: all batches of the company", "ledger record (update + commit)",
             "store reconciliation (commit)"]
    for label in order:  # the steps of one company, one after another in its thread
        if label in prof["phases"]:
            v = prof["phases"][label]
            print(f"    {label:<52} {v['mean']:>8.3f} {v['max']:>8.3f}")
    b = prof["batch"]
    if b:
        print(f"    one batch request (pool threads): n={b['n']}, p50 {b['p50'] * 1000:.0f} ms, p95 "
              f"{b['p95'] * 1000:.0f} ms, max {b['max'] * 1000:.0f} ms")
    print(f"    {'all threads':<52} {'calls':>8} {'s total':>8}")
    for label in ("QBO HTTP send (any)", "Session.commit (any thread)", "DB pool checkout (any thread)"):
        if label in prof["totals"]:
            v = prof["totals"][label]
            print(f"    {label:<52} {v['calls']:>8,} {v['seconds']:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
