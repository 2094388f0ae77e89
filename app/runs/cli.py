"""`flask worker`, `flask run-job`, `flask runs reconcile`, `flask schedules list`."""
import signal
import sys
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from .executor import Executor
from .models import TERMINAL, Run
from .process import start_engine
from .reaper import reconcile_runs
from .registry import JobError
from .schedules import describe, next_fire_times, schedules_for
from .service import enqueue


def init_app(app):
    app.cli.add_command(worker)
    app.cli.add_command(run_job)
    app.cli.add_command(runs_group)
    app.cli.add_command(schedules_group)


@click.command("worker")
@click.option("--no-scheduler", is_flag=True, help="Only execute runs; do not fire schedules.")
@click.option("--no-executor", is_flag=True, help="Only fire schedules; do not execute runs.")
@click.option("--threads", type=int, help="Runs executed at once (default EXECUTOR_THREADS).")
def worker(no_scheduler, no_executor, threads):
    """Run the scheduler and executor in this process until stopped."""
    app = current_app._get_current_object()
    if threads:
        app.config["EXECUTOR_THREADS"] = threads
    engine = start_engine(app, scheduler=not no_scheduler, executor=not no_executor)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    click.echo(f"worker {engine.process_id} scheduler={not no_scheduler} executor={not no_executor}", err=True)
    stopping.wait()
    engine.stop()


@click.command("run-job")
@click.argument("job_id")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A job parameter (repeatable).")
@click.option("--wait", is_flag=True, help="Wait for the run to finish; exit 0 only if it succeeded.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait at most.")
@with_appcontext
def run_job(job_id, params, wait, timeout):
    """Queue JOB_ID (or join its run in flight) and print the run id."""
    raw = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        raw[key.strip()] = value
    try:
        run, created = enqueue(job_id, raw, trigger="cli", requested_by="cli")
    except JobError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"run {run.id} {'queued' if created else 'already in flight'} job={job_id}")
    if not wait:
        return
    run = _wait_for(run.id, timeout)
    click.echo(f"run {run.id} {run.status}{': ' + run.reason if run.reason else ''}")
    sys.exit(0 if run.status == "succeeded" else 1)


def _wait_for(run_id, timeout):
    """Wait for a run to end, executing it here if no executor is running anywhere it can."""
    app = current_app._get_current_object()
    executor = Executor(app, only_run_id=run_id) if app.config["EXECUTOR_ENABLED"] else None
    if executor:
        executor.start()
    try:
        return _poll_until_done(run_id, timeout)
    finally:
        if executor:
            executor.stop()


def _poll_until_done(run_id, timeout):
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        run = db.session.get(Run, run_id, populate_existing=True)
        db.session.expunge(run)
        # End the transaction before sleeping: on SQLite it holds the write lock the executor needs.
        db.session.rollback()
        if run.status in TERMINAL:
            return run
        if deadline and time.monotonic() > deadline:
            raise click.ClickException(f"run {run_id} still {run.status} after {timeout:g} s")
        time.sleep(0.2)


@click.group("runs", help="Inspect and repair runs.")
def runs_group():
    pass


@runs_group.command("reconcile")
@with_appcontext
def reconcile():
    """Mark runs whose runner is gone as failed ("runner lost") and free their locks."""
    lost = reconcile_runs()
    click.echo(f"{len(lost)} run(s) marked failed: {', '.join(map(str, lost)) or '-'}")


@click.group("schedules", help="Inspect schedules.")
def schedules_group():
    pass


@schedules_group.command("list")
@with_appcontext
def list_schedules():
    """List schedules with their next fire time."""
    for s in schedules_for():
        try:
            upcoming = next_fire_times(s.cron, s.timezone, 1)
            nxt = upcoming[0].isoformat() if upcoming else "-"
        except ValueError:
            nxt = "invalid"
        state = "on " if s.enabled else "off"
        kind = "system" if s.system else "user"
        click.echo(f"{s.id:>4} {state} {kind:<6} {s.job_id:<28} {s.cron:<16} {describe(s.cron):<40} next={nxt}")
