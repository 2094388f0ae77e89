"""APScheduler fed from the schedules table; every fire becomes one run, deduplicated in the database."""
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import timezone

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..db import insert_ignore, utcnow
from ..extensions import db
from .. import settings
from .cron import make_trigger
from .models import Schedule, ScheduleFire
from .registry import all_jobs, find_job
from .service import enqueue, wake_executor

log = logging.getLogger(__name__)
PREFIX = "schedule:"


@dataclass(frozen=True)
class Plan:
    add: list
    reschedule: list
    remove: list
    unchanged: list


def plan_reconcile(current: dict, desired: dict) -> Plan:
    """Compare scheduler jobs {id: fingerprint} with the database's {id: fingerprint}."""
    add = sorted(k for k in desired if k not in current)
    remove = sorted(k for k in current if k not in desired)
    both = [k for k in desired if k in current]
    reschedule = sorted(k for k in both if desired[k] != current[k])
    unchanged = sorted(k for k in both if desired[k] == current[k])
    return Plan(add, reschedule, remove, unchanged)


def fingerprint(schedule: Schedule, business_tz: str):
    return (schedule.cron, schedule.timezone or business_tz)


class _FireExecutor(BaseExecutor):
    """Hands APScheduler's fire times straight to us: inserting a run is all a fire does."""

    def __init__(self, on_fire):
        super().__init__()
        self._on_fire = on_fire

    def submit_job(self, job, run_times):
        self._on_fire(job.id, run_times)

    def _do_submit_job(self, job, run_times):  # required by the base class; submit_job bypasses it
        self._on_fire(job.id, run_times)


class SchedulerService:
    """One per process; the in-memory job store is rebuilt from the database every few seconds."""

    def __init__(self, app):
        self.app = app
        self.interval = app.config["SCHEDULER_RECONCILE_SECONDS"]
        self.scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            executors={"default": _FireExecutor(self.fire)},
            # A fire missed by up to a minute (a busy process) still happens, once.
            job_defaults={"coalesce": True, "misfire_grace_time": 60, "max_instances": 1},
        )
        self.fingerprints: dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        with self.app.app_context():
            ensure_system_schedules()
            self.reconcile()
        self.scheduler.start()
        self._thread = threading.Thread(target=self._loop, name="syncdeck-scheduler-sync", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    @property
    def alive(self):
        return self.scheduler.running and self._thread is not None and self._thread.is_alive()

    def _loop(self):
        while not self._stop.wait(self.interval):
            try:
                with self.app.app_context():
                    self.reconcile()
            except Exception:
                log.exception("schedule reconcile failed")

    def reconcile(self) -> Plan:
        """Bring the in-memory scheduler in line with the schedules table."""
        values = settings.get_many()
        business_tz, disabled = values["business_timezone"], set(values["disabled_jobs"])
        rows = db.session.scalars(select(Schedule).where(Schedule.enabled.is_(True))).all()
        wanted = {f"{PREFIX}{s.id}": s for s in rows if find_job(s.job_id) and s.job_id not in disabled}
        desired = {k: fingerprint(s, business_tz) for k, s in wanted.items()}
        plan = plan_reconcile(self.fingerprints, desired)
        for key in plan.remove:
            self._remove(key)
        for key in plan.add + plan.reschedule:
            self._put(key, desired[key])
        db.session.rollback()
        return plan

    def _put(self, key, fp):
        cron, tz = fp
        try:
            trigger = make_trigger(cron, tz)
        except (ValueError, KeyError) as exc:  # validated on save; a bad row must not stop the others
            log.error("schedule=%s invalid cron=%r tz=%r: %s", key, cron, tz, exc)
            self._remove(key)
            return
        if key in self.fingerprints:
            self.scheduler.reschedule_job(key, trigger=trigger)
        else:
            self.scheduler.add_job(lambda: None, trigger=trigger, id=key, name=key, replace_existing=True)
        self.fingerprints[key] = fp

    def _remove(self, key):
        if self.scheduler.get_job(key):
            self.scheduler.remove_job(key)
        self.fingerprints.pop(key, None)

    def fire(self, key, run_times):
        schedule_id = int(key[len(PREFIX):])
        for run_time in run_times:
            try:
                with self.app.app_context():
                    record_fire(schedule_id, run_time.astimezone(timezone.utc).replace(tzinfo=None))
            except Exception:
                log.exception("schedule=%s fire at %s failed", schedule_id, run_time)


def record_fire(schedule_id, fire_time):
    """Insert the fire and its run; if another process recorded this fire first, do nothing."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or not schedule.enabled:
        return None
    try:
        fire = ScheduleFire(schedule_id=schedule_id, fire_time=fire_time, host=socket.gethostname())
        db.session.add(fire)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    run, _created = enqueue(schedule.job_id, schedule.params, trigger="schedule",
                            requested_by=f"schedule {schedule.name or schedule.id}", schedule_id=schedule.id,
                            raw_params=False)
    db.session.flush()
    fire.run_id = run.id
    db.session.commit()
    wake_executor()
    return run


def ensure_system_schedules():
    """Create the system schedule of every job with a default cron (once, whichever process is first)."""
    table = Schedule.__table__
    for job_def in all_jobs():
        if job_def.cron:
            db.session.execute(insert_ignore(table).values(
                job_id=job_def.id, name="default", cron=job_def.cron, timezone="", enabled=True,
                system=True, key=f"system:{job_def.id}", params={}, version=1,
                created_at=utcnow(), updated_at=utcnow()))
    db.session.commit()
