"""How runs are shown: one place turns a Run into JSON and into a human sentence."""
from flask import url_for

from .registry import find_job


def job_title(job_id):
    job_def = find_job(job_id)
    return job_def.title if job_def else job_id


def iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def run_json(run):
    return {
        "id": run.id, "job_id": run.job_id, "title": job_title(run.job_id), "status": run.status,
        "reason": run.reason, "summary": run.summary, "trigger": run.trigger,
        "requested_by": run.requested_by, "params": run.params or {},
        "progress": {"done": run.progress_done, "total": run.progress_total, "message": run.progress_message},
        "counters": dict(run.counter_items()),
        "queued_at": iso(run.queued_at), "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at), "heartbeat_at": iso(run.heartbeat_at),
        "duration": round(run.duration, 3) if run.duration is not None else None,
        "host": run.host, "pid": run.pid, "lock_key": run.lock_key, "lock_waits": run.lock_waits,
        "url": url_for("runs.run_detail", run_id=run.id), "status_url": url_for("api.run_status", run_id=run.id),
        "outcome": outcome_sentence(run) if run.status in ("succeeded", "failed", "cancelled") else None,
    }


def outcome_sentence(run):
    """The toast line: 'Refreshed 1,000 customers in 12.3 s' or the failure's reason."""
    seconds = f"{run.duration:.1f} s" if run.duration is not None else ""
    if run.status == "succeeded":
        what = run.summary or f"{job_title(run.job_id)} finished"
        return f"{what} in {seconds}" if seconds else what
    if run.status == "cancelled":
        return f"{job_title(run.job_id)} {run.reason or 'cancelled'}"
    return f"{job_title(run.job_id)} failed: {run.reason or 'unknown error'}"
