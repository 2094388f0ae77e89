"""Banking benchmark: bulk reconciliation of 1,000 invoices against seed 004's figure and its loop done well,
and the import of 100,000 statement lines against the seeds' ORM loop, all measured in the same run.

    .venv/bin/python bench/bulk_reconcile.py            # 1,000 invoices of 3,000 clients; 100,000 lines: ~3-4 min
    .venv/bin/python bench/bulk_reconcile.py --quick    # 200 invoices, 5,000 lines: checks the script works

--database-url (PostgreSQL `syncdeck_bench_banking` by default, or a sqlite:///file) has its schema dropped
and rebuilt through the migrations; the seeds' import loop writes into a second database beside it (same
name + `_seed`, rebuilt the same way), so the connector's table never holds its rows. The fake UISP
(python -m app.fakes.uisp) runs as a subprocess; its cache is filled by uisp.refresh before anything else
(no latency), then every API request gets --latency-ms (5 ms) added.

1. Bulk reconciliation (--invoices open invoices, one each of as many clients as the fake can give:
   POST /__fake/invoices/open):
   - connector: a deposit line (a BankLine row inserted directly, amount = the sum of the shares),
     bulk.create(line, shares, "bench"), then banking.bulk_reconcile run to its end in a child process
     (--child bulk, an in-process Executor as `flask run-job --wait`); seconds = the run's queued_at →
     finished_at. It runs first and again last (fake reset in between: the same invoices are open again,
     a new deposit line); the mean is the yardstick. Checked: the run succeeded and the fake holds exactly
     one new payment per invoice, for its share, none twice.
   - seed 004's figure: 1,000 invoices in 15 minutes (900 s), scaled linearly to --invoices.
     Target: seed ÷ connector ≥ 50× (PASS/MISSED).
   - seed 004's algorithm done well (baseline): after /__fake/reset, batches of 20, one POST /payments at
     a time through one requests.Session (the connector's body, one invoice each), then one database
     commit per batch recording the 20 payment ids in a table of its own (bench_seed_payments). No live
     check of the invoices (the seed had none): it sends half the connector's requests.
   - failure at 70 % (seed 004's invoice 700 of 1,000): after a reset the fake refuses the 700th POST
     (payments_refuse_at); a third run must end failed with 0 payments left at the fake and every invoice
     owing its whole share again (GET /__fake/invoices/<id> for each). Must hold (PASS/MISSED).
   - the 5 ms floor (computed): (invoices POSTs + invoices GETs) ÷ BANKING_CONCURRENCY × latency: the
     least time the connector's requests take at its concurrency; the connector's share = floor ÷ it.
   - no-DB replay (diagnostic): the connector's requests alone from plain threads (the GETs with
     BANKING_CONCURRENCY in flight, then the POSTs batch by batch, the same in flight), nothing written.
2. Statement import (--lines lines, one account, GB82WEST12345698765432):
   - a CAMT.053 file (write_camt053) and a CSV file (write_csv with the account's CSV profile) of
     --lines entries each (different lines), stored as uploads (store_upload);
   - connector: import_statement(sha256, "bench", "bench") in a child process per variant (--child import),
     so its peak RSS (VmHWM) is its own: CAMT, CAMT again (all duplicates: asserted 0 new), CSV, CSV again.
     Target: ≥ 20,000 lines/s for a first import (PASS/MISSED).
   - the seeds' way (baseline): in the `_seed` database, parse the file whole, then for the first
     --baseline-lines lines an ORM session.add(BankLine(...)) and commit() per line; extrapolated to all
     lines as parse seconds + per-line seconds × lines (labelled est.).
   Each child times the import's phases (perf_counter around importer functions) so a miss says where.
"""
import argparse
import hashlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import requests
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
from bench.harness import bench_app, fake_uisp_process, peak_rss_mb, rebuild_schema, run_job  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_bench_banking"
APP_KEY = "bench-banking-key"
API = "/crm/api/v1.0"
IBAN = "GB82WEST12345698765432"
ACCOUNT_KEY = "bench"
SEED_INVOICES, SEED_SECONDS = 1000, 900.0     # seed 004's published figure: 1,000 invoices in 15 minutes
BULK_TARGET, IMPORT_TARGET = 50, 20_000       # seed ÷ connector ≥ 50×; ≥ 20,000 lines/s
SEED_BATCH = 20                               # seed 004 posted in batches of 20, committing each
DEPOSIT_DAY = date(2026, 11, 16)


def config(fake_root=""):
    """UISP pointed at the fake, and Banking enabled beside the default connectors (uisp.refresh is UISP's)."""
    from app.connectors import ENABLED_CONNECTORS
    return {"UISP_BASE_URL": fake_root + API if fake_root else "", "UISP_APP_KEY": APP_KEY,
            "ENABLED_CONNECTORS": list(dict.fromkeys([*ENABLED_CONNECTORS, "uisp", "banking"]))}


def seed_url(url):
    """The second bench database for the seeds' import loop: same server, name + `_seed` (or file.seed)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '_seed' + path.suffix)}"
    parsed = make_url(url)
    return parsed.set(database=parsed.database + "_seed").render_as_string(hide_password=False)


# --- the fake UISP ----------------------------------------------------------------------------------

class Fake:
    """A running fake UISP: its root URL and the /__fake/ controls and truth the bench needs."""

    def __init__(self, root):
        self.root = root

    def _post(self, path, body):
        response = requests.post(f"{self.root}/__fake/{path}", json=body, timeout=600)
        response.raise_for_status()
        return response.json()

    def reset(self, latency_ms=0):
        """The generated data as at start (every invoice open again), counters zeroed, `latency_ms` in force."""
        self._post("reset", {})
        self._post("faults", {"latency_ms": latency_ms} if latency_ms else {})

    def open_invoices(self, count):
        return self._post("invoices/open", {"count": count})["invoices"]

    def payments(self):
        response = requests.get(f"{self.root}/__fake/payments", timeout=600)
        response.raise_for_status()
        return response.json()


@contextmanager
def fake_uisp(clients):
    """The fake UISP process, as a Fake."""
    with fake_uisp_process(clients, APP_KEY) as (url, _):
        yield Fake(url)


# --- set-up: schema, account, the UISP cache ----------------------------------------------------------


def set_up(args, fake):
    from app.connectors.base.connections import Connection, write_settings
    from app.extensions import db
    app = rebuild_schema(args.database_url, **config(fake.root))
    with app.app_context():
        conn = Connection(connector="banking", key=ACCOUNT_KEY, display_name="Bench account", active=True,
                          version=1, settings={}, secrets="", updated_by="bench")
        db.session.add(conn)
        write_settings(conn, {"account": IBAN, "currency": "ZAR"}, "bench")
        db.session.commit()
    fake.reset()
    started = time.perf_counter()
    run = run_job(app, "uisp.refresh")
    assert run.status == "succeeded", f"uisp.refresh {run.status}: {run.reason}"
    return app, time.perf_counter() - started


# --- 1. bulk reconciliation ---------------------------------------------------------------------------

def shares_for(app, fake, count):
    """[(invoice id, number, client id, cents)] of `count` open invoices, numbers and amounts from the cache
    (what an operator's allocation would name), checked against what the fake says is owed."""
    from sqlalchemy import select

    from app.connectors.uisp.models import Invoice
    from app.extensions import db
    picked = fake.open_invoices(count)
    if len(picked) < count:
        raise SystemExit(f"the fake has only {len(picked)} open invoices; raise --clients")
    with app.app_context():
        ids = [row["id"] for row in picked]
        cached = {}
        for start in range(0, len(ids), 1000):
            cached.update({r.id: r for r in db.session.execute(select(
                Invoice.id, Invoice.number, Invoice.client_id, Invoice.remaining_cents).where(
                Invoice.id.in_(ids[start:start + 1000])))})
    shares = []
    for row in picked:
        inv = cached[row["id"]]
        assert inv.remaining_cents == row["amountToPayCents"], f"cache and fake disagree on invoice {inv.id}"
        shares.append((inv.id, inv.number, inv.client_id, int(inv.remaining_cents)))
    return shares


def deposit_and_draft(app, shares, n):
    """The deposit line (inserted directly) and bulk.create's draft over the shares; (recon id, seconds)."""
    from app.connectors.banking import bulk
    from app.connectors.banking.models import BankLine
    from app.extensions import db
    cents = sum(s[3] for s in shares)
    with app.app_context():
        line = BankLine(identity=hashlib.sha256(f"bench-deposit-{n}".encode()).hexdigest(), account=IBAN,
                        booking_date=DEPOSIT_DAY, value_date=DEPOSIT_DAY, amount=Decimal(cents) / 100,
                        currency="ZAR", bank_reference=f"BENCHDEP{n:04d}", name="Karoo Reseller Network",
                        remittance=f"Bulk payment {len(shares)} invoices", import_id=0, match_status="unmatched")
        db.session.add(line)
        db.session.commit()
        started = time.perf_counter()
        recon = bulk.create(line, shares, "bench")
        db.session.commit()
        return recon.id, time.perf_counter() - started


def connector_bulk(args, app, fake, shares, n):
    fake.reset(args.latency_ms)
    recon_id, create_seconds = deposit_and_draft(app, shares, n)
    command = [sys.executable, __file__, "--child", "bulk", "--database-url", args.database_url,
               "--fake", fake.root, "--reconciliation", str(recon_id)]
    out = child_run(command)
    truth = fake.payments()
    if out["status"] != "succeeded":
        return {**out, "create_seconds": create_seconds, "payments": len(truth["payments"]), "truth": truth}
    expected = {f"syncdeck-bulk-{recon_id}-{s[0]}": (s[0], s[3]) for s in shares}
    got = {p["providerPaymentId"]: (p["invoiceIds"], p["amountCents"]) for p in truth["payments"]}
    assert len(truth["payments"]) == len(shares) == truth["posts"], \
        f"the fake holds {len(truth['payments'])} new payments after {truth['posts']} POSTs, expected {len(shares)}"
    assert got == {k: ([inv], cents) for k, (inv, cents) in expected.items()}, "payments differ from the shares"
    return {**out, "create_seconds": create_seconds, "payments": len(truth["payments"])}


def connector_bulk_failure(args, app, fake, shares):
    """A refusal at 70 % of the invoices: the run must fail and undo every payment it made."""
    at = max(1, len(shares) * 7 // 10)
    fake.reset(args.latency_ms)
    fake._post("faults", {"latency_ms": args.latency_ms, "payments_refuse_at": at})
    recon_id, _ = deposit_and_draft(app, shares, 3)
    out = child_run([sys.executable, __file__, "--child", "bulk", "--database-url", args.database_url,
                     "--fake", fake.root, "--reconciliation", str(recon_id)])
    truth = fake.payments()

    def still_owed(share):
        response = requests.get(f"{fake.root}/__fake/invoices/{share[0]}", timeout=60)
        response.raise_for_status()
        invoice = response.json()
        return invoice["totalCents"] - invoice["paidCents"] == share[3]

    with ThreadPoolExecutor(8) as pool:
        owed = sum(pool.map(still_owed, shares))
    return {**out, "refuse_at": at, "left": len(truth["payments"]), "posts": truth["posts"],
            "deletes": truth["deletes"], "owed_again": owed}


def child_bulk(args):
    """In the child: banking.bulk_reconcile on --reconciliation, its phases timed."""
    app = bench_app(args.database_url, **config(args.fake))
    profile = Profile()
    profile.install_bulk()
    run = run_job(app, "banking.bulk_reconcile", {"reconciliation": args.reconciliation})
    with app.app_context():
        from app import settings
        batch = int(settings.get("banking_bulk_batch_size"))
    print(json.dumps({"run_id": run.id, "status": run.status, "reason": run.reason, "summary": run.summary,
                      "seconds": (run.finished_at - run.queued_at).total_seconds(),
                      "wait": (run.started_at - run.queued_at).total_seconds(),
                      "run_seconds": (run.finished_at - run.started_at).total_seconds(),
                      "concurrency": int(app.config.get("BANKING_CONCURRENCY", 8)), "batch": batch,
                      "rss_mb": peak_rss_mb(), "profile": profile.report()}))


def payment_body(share, day, provider_payment_id, recon="seed"):
    """The body uisp_payments.create sends (same fields), so the baseline's POSTs cost the fake the same."""
    from app.connectors.banking.uisp_payments import BANK_TRANSFER, PROVIDER
    invoice_id, number, client_id, cents = share
    return {"clientId": client_id, "amount": round(cents / 100, 2), "methodId": BANK_TRANSFER,
            "createdDate": f"{day.isoformat()}T12:00:00+0000", "providerName": PROVIDER,
            "providerPaymentId": provider_payment_id, "providerPaymentTime": f"{day.isoformat()}T12:00:00+0000",
            "note": f"Bulk reconciliation #{recon}, invoice {number}", "applyToInvoicesAutomatically": True,
            "invoiceIds": [invoice_id]}


def seed_bulk(args, app, fake, shares):
    """Seed 004 done well: batches of 20, one POST at a time on one Session, a commit per batch."""
    from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

    from app.extensions import db
    table = Table("bench_seed_payments", MetaData(), Column("id", Integer, primary_key=True),
                  Column("invoice_id", Integer, nullable=False), Column("payment_id", BigInteger, nullable=False),
                  Column("provider_payment_id", String(64), nullable=False, unique=True))
    fake.reset(args.latency_ms)
    session = requests.Session()
    session.headers.update({"X-Auth-App-Key": APP_KEY, "Accept": "application/json"})
    url = fake.root + API + "/payments"
    with app.app_context():
        table.drop(db.engine, checkfirst=True)
        table.create(db.engine)
        started = time.perf_counter()
        for start in range(0, len(shares), SEED_BATCH):
            rows = []
            for share in shares[start:start + SEED_BATCH]:
                ppid = f"seed-{share[0]}"
                response = session.post(url, json=payment_body(share, DEPOSIT_DAY, ppid), timeout=30)
                response.raise_for_status()
                rows.append({"invoice_id": share[0], "payment_id": response.json()["id"], "provider_payment_id": ppid})
            db.session.execute(table.insert(), rows)
            db.session.commit()
        seconds = time.perf_counter() - started
    truth = fake.payments()
    assert len(truth["payments"]) == len(shares), f"the seed's loop left {len(truth['payments'])} payments"
    return {"seconds": seconds, "payments": len(truth["payments"]), "requests": truth["posts"]}


def replay(args, fake, shares, workers, batch_size):
    """The connector's requests with nothing else: GET each invoice, then POST batch by batch, `workers` in flight."""
    fake.reset(args.latency_ms)
    session = requests.Session()
    session.headers.update({"X-Auth-App-Key": APP_KEY, "Accept": "application/json"})
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))
    base = fake.root + API

    def get(share):
        session.get(f"{base}/invoices/{share[0]}", timeout=30).raise_for_status()

    def post(share):
        session.post(f"{base}/payments", json=payment_body(share, DEPOSIT_DAY, f"replay-{share[0]}"),
                     timeout=30).raise_for_status()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(get, shares))
        gets = time.perf_counter() - started
        for start in range(0, len(shares), batch_size):
            list(pool.map(post, shares[start:start + batch_size]))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "gets": gets, "posts": seconds - gets}


# --- 2. statement import ------------------------------------------------------------------------------

def make_statement(n, tag, fmt):
    """A statement of n lines over ~90 days: 4 credits to 1 debit, each with its own bank reference."""
    from app.connectors.banking.statements import Line, Statement
    start, lines = date(2026, 8, 1), []
    for k in range(n):
        day = start + timedelta(days=k * 90 // n)
        cents = (k * 7919) % 250_000 + 100
        amount = (Decimal(cents) / 100) * (-1 if k % 5 == 4 else 1)
        lines.append(Line(booking_date=day, value_date=day, amount=amount, currency="ZAR",
                          bank_reference=f"{tag}{k:09d}", end_to_end_id=f"E2E{tag}{k:09d}",
                          reference=f"REF{k:07d}", name=f"Customer {k % 3000:04d}",
                          remittance=f"Payment of invoice INV-{k:07d} customer {k % 3000:04d}"))
    opening = Decimal("10000.00")
    closing = opening + sum((line.amount for line in lines), Decimal("0"))
    return Statement(format=fmt, account=IBAN, currency="ZAR", statement_id=f"BENCH-{tag}", opening_balance=opening,
                     opening_date=lines[0].booking_date, closing_balance=closing,
                     closing_date=lines[-1].booking_date, lines=tuple(lines))


def write_files(app, args, folder):
    """The CAMT.053 and CSV files (different lines), on disk for the seeds' loop and stored as uploads."""
    from werkzeug.datastructures import FileStorage

    from app.connectors.banking.accounts import csv_profile
    from app.connectors.banking.statements import write_camt053, write_csv
    from app.connectors.base.connections import get_connection
    from app.connectors.base.upload import max_upload_bytes, store_upload
    from app.extensions import db
    files = {}
    with app.app_context():
        profile = csv_profile(get_connection("banking", ACCOUNT_KEY))
        limit = max_upload_bytes()
        for fmt, name, write in (("camt053", "bench.camt053.xml", lambda s: write_camt053([s])),
                                 ("csv", "bench.csv", lambda s: write_csv(s, profile))):
            statement = make_statement(args.lines, "K" if fmt == "camt053" else "C", fmt)
            started = time.perf_counter()
            content = write(statement)
            write_seconds = time.perf_counter() - started
            path = Path(folder) / name
            path.write_bytes(content)
            # The bench stores it whatever the configured limit (UPLOAD_MAX_BYTES), and reports the limit.
            upload = store_upload(FileStorage(io.BytesIO(content), filename=name), "bench",
                                  max_bytes=max(limit, len(content) + 1))
            db.session.commit()
            files[fmt] = {"sha": upload.sha256, "path": str(path), "name": name, "bytes": len(content),
                          "write_seconds": write_seconds, "over_limit": len(content) > limit, "limit": limit}
    return files


def connector_import(args, sha):
    command = [sys.executable, __file__, "--child", "import", "--database-url", args.database_url, "--sha", sha]
    return child_run(command)


def child_import(args):
    """In the child: import_statement once, its phases timed; the counts and this process's peak RSS."""
    from app.extensions import db
    app = bench_app(args.database_url, **config())
    profile = Profile()
    profile.install_import()
    with app.app_context():
        from app.connectors.banking.importer import import_statement
        if args.cprofile:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        record = import_statement(args.sha, ACCOUNT_KEY, "bench")
        seconds = time.perf_counter() - started
        if args.cprofile:
            profiler.disable()
            profile.cprofile = top_functions(profiler)
        out = {"seconds": seconds, "total": record.lines_total, "new": record.lines_new,
               "duplicate": record.lines_duplicate, "format": record.format}
        db.session.rollback()
    print(json.dumps({**out, "rss_mb": peak_rss_mb(), "profile": profile.report(),
                      "cprofile": getattr(profile, "cprofile", None)}))


def top_functions(profiler, count=18):
    """The functions with the most own time (tottime), with their cumulative time and calls."""
    import pstats
    stats = pstats.Stats(profiler).stats
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:count]
    return [{"function": f"{Path(file).name}:{line} {name}" if line else name, "calls": calls, "tottime": tot,
             "cumtime": cum} for (file, line, name), (_, calls, tot, cum, _) in rows]


def cprofile_first_import(args, app, fmt, sha):
    """After a miss: the first import's lines deleted again, then the same import once more under cProfile."""
    from sqlalchemy import text

    from app.extensions import db
    with app.app_context():
        first = db.session.scalar(text("SELECT min(id) FROM bank_imports WHERE upload_sha256 = :s"), {"s": sha})
        db.session.execute(text("DELETE FROM bank_lines WHERE import_id = :i"), {"i": first})
        db.session.commit()
    out = child_run([sys.executable, __file__, "--child", "import", "--database-url", args.database_url, "--sha", sha,
                     "--cprofile"])
    assert out["new"] == args.lines, f"{fmt} import under cProfile stored {out['new']} new lines"
    return out


def seed_import(args, path):
    command = [sys.executable, __file__, "--child", "seed-import", "--database-url", seed_url(args.database_url),
               "--file", path, "--baseline-lines", str(args.baseline_lines)]
    return child_run(command)


def child_seed_import(args):
    """The seeds' way, in the `_seed` database: parse the whole file, then add + commit one line at a time."""
    from app.connectors.banking.identity import identities, normalise_account
    from app.connectors.banking.models import BankImport, BankLine
    from app.connectors.banking.statements import CsvProfile, parse_statement
    from app.extensions import db
    app = bench_app(args.database_url, **config())
    path = Path(args.file)
    with app.app_context():
        record = BankImport(upload_sha256="0" * 64, filename=path.name, status="accepted", imported_by="seed")
        db.session.add(record)
        db.session.commit()
        import_id = record.id
        started = time.perf_counter()
        statements = parse_statement(path.read_bytes(), path.name, csv_profile=CsvProfile(default_currency="ZAR"),
                                     account=IBAN)
        pairs = [(normalise_account(s.account), identity, line) for s in statements
                 for identity, line in zip(identities(normalise_account(s.account), s.lines), s.lines)]
        parse_seconds = time.perf_counter() - started
        sample = pairs[:args.baseline_lines]
        started = time.perf_counter()
        for account, identity, line in sample:
            db.session.add(BankLine(identity=identity, account=account, booking_date=line.booking_date,
                                    value_date=line.value_date, amount=line.amount, currency=line.currency,
                                    bank_reference=line.bank_reference, end_to_end_id=line.end_to_end_id,
                                    fitid=line.fitid, reference=line.reference, name=line.name,
                                    counterparty_account=line.counterparty_account, remittance=line.remittance,
                                    import_id=import_id, match_status="unmatched", match_rule="", invoices=[],
                                    match_note="", matched_by=""))
            db.session.commit()
        loop_seconds = time.perf_counter() - started
    print(json.dumps({"parse_seconds": parse_seconds, "loop_seconds": loop_seconds, "sample": len(sample),
                      "total": len(pairs), "rss_mb": peak_rss_mb()}))


# --- timing the connector's functions (in the children) -----------------------------------------------

IMPORT_PHASES = (("_parse", "1 read the upload and parse (_parse)"), ("open_upload", "  open_upload (read the bytes)"),
                 ("parse_statement", "  parse_statement (parse + checks)"), ("_check_accounts", "2 check the accounts"),
                 ("_store_lines", "3 store the lines (_store_lines)"),
                 ("insert_missing", "  stored keys + rows + streamed COPY (insert_missing)"),
                 ("identities", "    identities (hashing, inside insert_missing)"))


class Profile:
    """perf_counter around functions: calls and seconds per label, and each call's seconds where sampled."""

    def __init__(self):
        self.lock = threading.Lock()
        self.totals = defaultdict(lambda: [0, 0.0])
        self.samples = defaultdict(list)

    def add(self, label, seconds, sample=False):
        with self.lock:
            self.totals[label][0] += 1
            self.totals[label][1] += seconds
            if sample:
                self.samples[label].append(seconds)

    def wrap(self, owner, name, label, sample=False, by_method=False):
        original = getattr(owner, name)

        def timed(*a, **kw):
            started = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                # UispClient._call(self, method, path, ...): one label per HTTP method
                self.add(f"{label} {a[1]}" if by_method else label, time.perf_counter() - started, sample)
        setattr(owner, name, timed)

    def install_bulk(self):
        from sqlalchemy.orm import Session

        from app.connectors.banking import bulk, uisp_payments
        from app.connectors.uisp.client import UispClient
        from app.runs.context import RunContext
        for name, label in (("_undo_leftovers", "1 undo leftovers (count + reset + commit)"),
                            ("_verify_live", "2 verify live: GET every invoice"),
                            ("_post_all", "3 post all batches"),
                            ("_shares", "  load shares (select)"),
                            ("_mark", "  mark batch 'sending' (update + commit)"),
                            ("_record_posted", "  record batch 'posted' (update + commit)"),
                            ("_set", "  status change (update + commit + refresh)")):
            self.wrap(bulk, name, label)
        self.wrap(uisp_payments, "create", "uisp_payments.create (pool thread)", sample=True)
        self.wrap(UispClient, "_call", "HTTP", sample=True, by_method=True)
        self.wrap(RunContext, "progress", "ctx.progress")
        self.wrap(Session, "commit", "Session.commit (any)")

    def install_import(self):
        from sqlalchemy.orm import Session

        from app.connectors.banking import importer
        for name, label in IMPORT_PHASES:
            self.wrap(importer, name, label)
        self.wrap(Session, "commit", "Session.commit (any)")

    def report(self):
        out = {"totals": {label: {"calls": c, "seconds": s} for label, (c, s) in self.totals.items()}, "samples": {}}
        for label, values in self.samples.items():
            ordered = sorted(values)
            out["samples"][label] = {"n": len(ordered), "p50": ordered[len(ordered) // 2],
                                     "p95": ordered[int(len(ordered) * 0.95)], "max": ordered[-1],
                                     "mean": statistics.mean(ordered)}
        return out


def child_run(command):
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"child {command[3]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the parent ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--clients", type=int, default=3000, help="the fake's clients (≥ --invoices open invoices)")
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--baseline-lines", type=int, default=2000, help="lines the seeds' loop writes (then scaled)")
    parser.add_argument("--latency-ms", type=float, default=5)
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--quick", action="store_true", help="200 invoices of 400 clients, 5,000 lines")
    parser.add_argument("--child", choices=("bulk", "import", "seed-import"))
    parser.add_argument("--fake", default="")
    parser.add_argument("--reconciliation", type=int, default=0)
    parser.add_argument("--sha", default="")
    parser.add_argument("--file", default="")
    parser.add_argument("--cprofile", action="store_true", help="(child) run the import under cProfile")
    parser.add_argument("--no-cprofile", action="store_true", help="no cProfile pass after a missed import target")
    args = parser.parse_args()
    if args.child:
        return {"bulk": child_bulk, "import": child_import, "seed-import": child_seed_import}[args.child](args)
    if args.quick:
        args.clients, args.invoices, args.lines, args.baseline_lines = 400, 200, 5000, 1000
    args.baseline_lines = min(args.baseline_lines, args.lines)
    m = {}
    wall = time.perf_counter()
    with fake_uisp(args.clients) as fake, tempfile.TemporaryDirectory(prefix="bench-banking-") as folder:
        app, m["refresh_seconds"] = set_up(args, fake)
        if not args.skip_bulk:
            shares = shares_for(app, fake, args.invoices)
            m["clients"] = len({s[2] for s in shares})
            m["bulk"] = [connector_bulk(args, app, fake, shares, 1)]
            if m["bulk"][0]["status"] == "succeeded":
                m["seed_bulk"] = seed_bulk(args, app, fake, shares)
                m["replay"] = replay(args, fake, shares, m["bulk"][0]["concurrency"], m["bulk"][0]["batch"])
                m["bulk"].append(connector_bulk(args, app, fake, shares, 2))
                if m["bulk"][1]["status"] != "succeeded":
                    raise AssertionError(f"the second banking.bulk_reconcile run {m['bulk'][1]['status']}: "
                                         f"{m['bulk'][1]['reason']}")
                m["bulk_failure"] = connector_bulk_failure(args, app, fake, shares)
        if not args.skip_import:
            rebuild_schema(seed_url(args.database_url), **config())
            m["files"] = write_files(app, args, folder)
            m["import"] = {}
            for fmt in ("camt053", "csv"):
                first = connector_import(args, m["files"][fmt]["sha"])
                again = connector_import(args, m["files"][fmt]["sha"])
                assert (first["total"], first["new"]) == (args.lines, args.lines), f"{fmt} first import: {first}"
                assert (again["new"], again["duplicate"]) == (0, args.lines), f"{fmt} import again: {again}"
                m["import"][fmt] = {"first": first, "again": again,
                                    "seed": seed_import(args, m["files"][fmt]["path"])}
                if args.lines / first["seconds"] < IMPORT_TARGET and not args.no_cprofile:
                    m["import"][fmt]["cprofile"] = cprofile_first_import(args, app, fmt, m["files"][fmt]["sha"])
    m["wall"] = time.perf_counter() - wall
    report(args, m)


def verdict(ok):
    return "PASS" if ok else "MISSED"


def report(args, m):
    print(f"\nBanking benchmark: fake UISP with {args.clients:,} clients (uisp.refresh filled the cache in "
          f"{m['refresh_seconds']:.1f} s, no latency), then +{args.latency_ms:g} ms per API request; "
          f"database {make_url(args.database_url).render_as_string()}")
    if "bulk" in m:
        report_bulk(args, m)
    if "import" in m:
        report_import(args, m)
    print(f"\n  whole run: {m['wall']:.0f} s")


def report_bulk(args, m):
    if m["bulk"][0]["status"] != "succeeded":
        return report_bulk_failed(args, m)
    runs, seed, rep = m["bulk"], m["seed_bulk"], m["replay"]
    n, c, batch, lat = args.invoices, runs[0]["concurrency"], runs[0]["batch"], args.latency_ms / 1000
    con = statistics.mean(r["seconds"] for r in runs)
    figure = SEED_SECONDS * n / SEED_INVOICES
    floor = 2 * n / c * lat
    print(f"\n1. Bulk reconciliation: {n:,} invoices of {m['clients']:,} clients, one payment each; "
          f"banking_bulk_batch_size={batch}, BANKING_CONCURRENCY={c}")
    print(f"   connector: bulk.create {runs[0]['create_seconds']:.2f} s (not in its time); each run succeeded, "
          f"the fake holding exactly {n:,} new payments (one per invoice, its share, none twice)")
    print(f"\n   {'way':<64} {'seconds':>8} {'invoices/s':>10}")
    rows = [(f"banking.bulk_reconcile, queue → end (first run)", runs[0]["seconds"]),
            (f"banking.bulk_reconcile, queue → end (last run)", runs[1]["seconds"]),
            ("  connector, mean of both (the yardstick)", con),
            (f"seed 004's figure ({SEED_INVOICES:,} in {SEED_SECONDS / 60:g} min"
             f"{', scaled' if n != SEED_INVOICES else ''})",
             figure),
            (f"seed 004 done well: batches of {SEED_BATCH}, 1 POST at a time, commit/batch", seed["seconds"]),
            (f"no-DB replay: {n:,} GETs + {n:,} POSTs, {c} in flight (diagnostic)", rep["seconds"]),
            (f"5 ms floor: ({n:,} POSTs + {n:,} GETs) / {c} × {args.latency_ms:g} ms (computed)", floor)]
    for label, seconds in rows:
        print(f"   {label:<64} {seconds:>8.2f} {n / seconds:>10.1f}")
    speedup = figure / con
    print(f"\n   seed ÷ connector:           {speedup:8.1f}×  (target ≥ {BULK_TARGET}×, i.e. under "
          f"{figure / BULK_TARGET:.0f} s) {verdict(speedup >= BULK_TARGET)}")
    print(f"   baseline ÷ connector:       {seed['seconds'] / con:8.2f}×  (seed 004's loop done well, same run; it "
          f"sends {seed['requests']:,} requests, the connector {2 * n:,})")
    print(f"   connector's share of floor: {floor / con:8.0%}   (floor ÷ connector; the replay reaches "
          f"{floor / rep['seconds']:.0%})")
    print(f"   connector ÷ replay:         {con / rep['seconds']:8.2f}   (what the database and the run add over "
          f"the bare requests)")
    print(f"   connector peak RSS:         {max(r['rss_mb'] for r in runs):8.0f} MB")
    report_bulk_failure(args, m["bulk_failure"])
    for k, r in enumerate(runs, 1):
        print(f"\n   Where run {k}'s {r['seconds']:.2f} s go: queued → started {r['wait']:.2f} s, started → finished "
              f"{r['run_seconds']:.2f} s (child process, perf_counter around bulk.py's functions)")
        bulk_profile(r["profile"], n, c, batch, lat)


def report_bulk_failure(args, f):
    n = args.invoices
    ok = f["status"] == "failed" and f["left"] == 0 and f["owed_again"] == n
    print(f"\n   Failure at invoice {f['refuse_at']:,} of {n:,} (the fake refuses that POST): run {f['status']} after "
          f"{f['seconds']:.2f} s: {f['reason']}")
    print(f"   the fake afterwards: {f['posts']:,} POSTs, {f['deletes']:,} DELETEs, {f['left']} payments left, "
          f"{f['owed_again']:,} of {n:,} invoices owing their whole share again: {verdict(ok)}")


def report_bulk_failed(args, m):
    r, truth = m["bulk"][0], m["bulk"][0]["truth"]
    print(f"\n1. Bulk reconciliation: {args.invoices:,} invoices of {m['clients']:,} clients: the connector FAILED, "
          f"nothing to compare")
    print(f"   banking.bulk_reconcile run {r['run_id']} {r['status']} after {r['seconds']:.2f} s: {r['reason']}")
    print(f"   the fake afterwards: {truth['posts']} POSTs, {truth['deletes']} DELETEs, {len(truth['payments'])} "
          f"payments left")
    print(f"   seed 004's figure was {SEED_SECONDS * args.invoices / SEED_INVOICES:.0f} s: seed ÷ connector MISSED "
          f"(no successful run)")


def bulk_profile(prof, n, c, batch, lat):
    totals, samples = prof["totals"], prof["samples"]
    print(f"     {'function':<52} {'calls':>7} {'s total':>8}")
    for label in sorted(totals):
        if label[0] in "123 ":
            v = totals[label]
            print(f"     {label:<52} {v['calls']:>7,} {v['seconds']:>8.3f}")
    for label in ("ctx.progress", "Session.commit (any)"):
        if label in totals:
            print(f"     {label:<52} {totals[label]['calls']:>7,} {totals[label]['seconds']:>8.3f}")
    for label in sorted(samples):
        s = samples[label]
        print(f"     {label:<52} n={s['n']:>5,}  p50 {s['p50'] * 1000:5.1f} ms  p95 {s['p95'] * 1000:5.1f} ms  "
              f"max {s['max'] * 1000:6.1f} ms")
    rounds = -(-n // batch) * -(-batch // c)
    print(f"     ideal: verify {n / c * lat:.3f} s ({n:,} GETs / {c}), post {rounds * lat:.3f} s ({-(-n // batch)} "
          f"batches × {-(-batch // c)} rounds of {c} × {lat * 1000:g} ms)")


def report_import(args, m):
    n = args.lines
    print(f"\n2. Statement import: {n:,} lines into account {IBAN} (one statement per file)")
    for fmt, f in m["files"].items():
        print(f"   {f['name']}: {f['bytes'] / 1e6:.1f} MB, written in {f['write_seconds']:.2f} s"
              + (f"; OVER the upload limit UPLOAD_MAX_BYTES = {f['limit'] / 1e6:g} MB (the bench stores it anyway)"
                 if f["over_limit"] else ""))
    print(f"\n   {'way':<54} {'lines':>8} {'new':>8} {'seconds':>8} {'lines/s':>9} {'RSS MB':>7}")
    for fmt, r in m["import"].items():
        first, again, seed = r["first"], r["again"], r["seed"]
        est = seed["parse_seconds"] + seed["loop_seconds"] / seed["sample"] * n
        r["seed_est"] = est
        print(f"   {fmt + ': import_statement':<54} {first['total']:>8,} {first['new']:>8,} {first['seconds']:>8.2f} "
              f"{n / first['seconds']:>9,.0f} {first['rss_mb']:>7.0f}")
        print(f"   {fmt + ': import_statement again (all duplicates)':<54} {again['total']:>8,} {again['new']:>8,} "
              f"{again['seconds']:>8.2f} {n / again['seconds']:>9,.0f} {again['rss_mb']:>7.0f}")
        label = f"{fmt}: seeds' way, est. (parse + add/commit × {seed['sample']:,})"
        print(f"   {label:<54} {n:>8,} {'':>8} {est:>8.2f} {n / est:>9,.0f} {seed['rss_mb']:>7.0f}")
        print(f"   {'':<6}measured: parse {seed['parse_seconds']:.2f} s, {seed['sample']:,} add + commit "
              f"{seed['loop_seconds']:.2f} s ({seed['loop_seconds'] / seed['sample'] * 1000:.2f} ms a line)")
    print()
    for fmt, r in m["import"].items():
        rate = n / r["first"]["seconds"]
        print(f"   {fmt:<8} import: {rate:9,.0f} lines/s  (target ≥ {IMPORT_TARGET:,}) "
              f"{verdict(rate >= IMPORT_TARGET)};  "
              f"connector ÷ baseline {r['seed_est'] / r['first']['seconds']:6.1f}×;  again: "
              f"{r['again']['seconds']:.2f} s, 0 new")
    for fmt, r in m["import"].items():
        for which in ("first", "again"):
            v = r[which]
            print(f"\n   Where {fmt} import ({which})'s {v['seconds']:.2f} s go (child, perf_counter around "
                  f"importer.py's functions):")
            totals = v["profile"]["totals"]
            seconds = {label: totals.get(label, {"seconds": 0.0})["seconds"] for _, label in IMPORT_PHASES}
            rows = [(label, totals[label]["calls"], seconds[label]) for _, label in IMPORT_PHASES if label in totals]
            store = seconds["3 store the lines (_store_lines)"]
            rows.append(("    rows, stored keys, COPY (insert_missing less identities)", None,
                         seconds["  stored keys + rows + streamed COPY (insert_missing)"]
                         - seconds["    identities (hashing, inside insert_missing)"]))
            if "Session.commit (any)" in totals:
                rows.append(("4 Session.commit (any)", totals["Session.commit (any)"]["calls"],
                             totals["Session.commit (any)"]["seconds"]))
            accounted = seconds["1 read the upload and parse (_parse)"] + seconds["2 check the accounts"] + store + \
                totals.get("Session.commit (any)", {"seconds": 0.0})["seconds"]
            rows.append(("the rest (get_upload, import row, activity, …)", None, v["seconds"] - accounted))
            for label, calls, secs in rows:
                print(f"     {label:<64} {'' if calls is None else f'{calls:,}':>6} {secs:>8.3f}")
        if "cprofile" in r:
            c = r["cprofile"]
            print(f"\n   cProfile of the {fmt} first import again (its lines deleted first; {c['seconds']:.2f} s with "
                  f"the profiler's overhead), top functions by own time:")
            print(f"     {'function':<72} {'calls':>9} {'own s':>7} {'cum s':>7}")
            for row in c["cprofile"]:
                print(f"     {row['function'][:72]:<72} {row['calls']:>9,} {row['tottime']:>7.2f} "
                      f"{row['cumtime']:>7.2f}")


if __name__ == "__main__":
    sys.exit(main())
