"""Start the scheduler and executor in this process (wsgi.py, `flask worker`), and beat for /healthz."""
import atexit
import logging
import os
import socket
import threading

from sqlalchemy import update

from ..db import insert_ignore, utcnow
from ..extensions import db
from .executor import Executor
from .hooks import after_run_finished
from .models import WorkerProcess
from .scheduler import SchedulerService

log = logging.getLogger(__name__)


def start_engine(app, *, scheduler=None, executor=None):
    """Start what the config (or the caller) asks for; safe to call once per process."""
    if app.extensions.get("syncdeck_engine"):
        return app.extensions["syncdeck_engine"]
    scheduler = app.config["SCHEDULER_ENABLED"] if scheduler is None else scheduler
    executor = app.config["EXECUTOR_ENABLED"] if executor is None else executor
    engine = Engine(app, scheduler, executor)
    app.extensions["syncdeck_engine"] = engine
    engine.start()
    atexit.register(engine.stop)
    return engine


class Engine:
    def __init__(self, app, with_scheduler, with_executor):
        self.app = app
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{utcnow():%Y%m%d%H%M%S%f}"
        self.scheduler = SchedulerService(app) if with_scheduler else None
        self.executor = Executor(app) if with_executor else None
        self._stop = threading.Event()
        self._beat_thread = None

    def start(self):
        if self.executor:
            self.executor.on_finish.append(after_run_finished)
            self.app.extensions["syncdeck_executor"] = self.executor
            self.executor.start()
        if self.scheduler:
            self.scheduler.start()
        self._beat()
        self._beat_thread = threading.Thread(target=self._beat_loop, name="syncdeck-process-beat", daemon=True)
        self._beat_thread.start()
        log.info("engine started process=%s scheduler=%s executor=%s",
                 self.process_id, bool(self.scheduler), bool(self.executor))

    def stop(self):
        self._stop.set()
        if self.scheduler:
            self.scheduler.stop()
        if self.executor:
            self.executor.stop(wait=False)

    def _beat_loop(self):
        while not self._stop.wait(self.app.config["HEARTBEAT_SECONDS"]):
            try:
                self._beat()
            except Exception:
                log.exception("process heartbeat failed")

    def _beat(self):
        table = WorkerProcess.__table__
        with self.app.app_context(), db.engine.begin() as conn:
            now = utcnow()
            conn.execute(insert_ignore(table, conn).values(
                id=self.process_id, host=socket.gethostname(), pid=os.getpid(),
                scheduler=bool(self.scheduler), executor=bool(self.executor), started_at=now, heartbeat_at=now))
            conn.execute(update(table).where(table.c.id == self.process_id).values(
                heartbeat_at=now, scheduler=bool(self.scheduler and self.scheduler.alive)))
