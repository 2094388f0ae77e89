"""How old each connector's cached data is, from its last successful run."""
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from .. import settings
from ..db import utcnow
from .history import last_success_times
from .registry import all_jobs, find_job


@dataclass
class Freshness:
    job_id: str
    title: str
    connector: str
    last_success: Optional[datetime]
    limit_minutes: int

    @property
    def age_minutes(self):
        if self.last_success is None:
            return None
        return int((utcnow() - self.last_success).total_seconds() // 60)

    @property
    def stale(self):
        return self.last_success is None or self.age_minutes > self.limit_minutes


def job_freshness(job_ids=None, connector=None):
    """Freshness of the jobs that declare freshness=True (optionally of one connector)."""
    jobs = [j for j in all_jobs() if j.freshness and (connector is None or j.connector == connector)
            and (job_ids is None or j.id in job_ids)]
    if not jobs:
        return []
    values = settings.get_many()
    last = last_success_times([j.id for j in jobs])
    return [Freshness(j.id, j.title, j.connector, last.get(j.id), stale_minutes_for(j.id, values))
            for j in jobs]


def stale_minutes_for(job_id, values=None):
    """The job's stale limit: its own from Settings, else the one it declares, else the default."""
    limits = (values or {}).get("stale_minutes") or settings.get("stale_minutes")
    if job_id in limits:
        return int(limits[job_id])
    declared = getattr(find_job(job_id), "stale_minutes", None)
    return int(declared or limits.get("*", settings.DEFAULTS["stale_minutes"]["*"]))


def connector_freshness(connector):
    """The oldest freshness among a connector's jobs: what its pages' badge shows."""
    items = job_freshness(connector=connector)
    if not items:
        return None
    return min(items, key=lambda f: f.last_success or datetime.min)


def stale_jobs():
    return [f for f in job_freshness() if f.stale]
