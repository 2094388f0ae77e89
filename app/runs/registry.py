"""The job registry: connectors declare jobs with @job and their facts."""
import re
import string
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Optional

from .cron import make_trigger

# Counters every run has (columns of runs); a job may declare more of its own (kept in runs.counters).
STANDARD_COUNTERS = ("fetched", "inserted", "updated", "deleted", "failed")


class JobError(Exception):
    """A job or its parameters are not acceptable; the message is shown to the user."""


@dataclass(frozen=True)
class Param:
    """One accepted parameter: its name, type (str, int, float, bool, date, file) and default."""

    name: str
    type: str = "str"
    default: object = None
    required: bool = False
    help: str = ""
    choices: tuple = ()


@dataclass
class Job:
    id: str
    func: Callable
    title: str
    connector: str
    description: str = ""
    cron: Optional[str] = None
    lock: Optional[str] = None
    after: tuple = ()
    params: tuple = ()
    timeout: float = 3600.0
    # Part of the global Refresh Data button (and refresh on login) by default.
    refresh: bool = False
    # Counted as the data freshness of its connector.
    freshness: bool = False
    # Minutes after which its data counts as stale, unless Settings say otherwise (None = the default).
    stale_minutes: Optional[int] = None
    system: bool = False
    # Counters of its own beyond STANDARD_COUNTERS, e.g. ("pushed", "skipped").
    counters: tuple = ()
    # What a person needs, beyond trigger_runs, to start it by hand (e.g. post_payments: it moves money).
    permission: Optional[str] = None
    extra: dict = field(default_factory=dict)

    @property
    def lock_key(self):
        return self.lock or self.id

    def lock_key_for(self, params):
        """The lock of a run with these params: `lock` may name params, e.g. "epos_qbo:{company}", so that
        runs of one job for different companies go side by side and runs for the same one wait."""
        if "{" not in self.lock_key:
            return self.lock_key
        return self.lock_key.format_map({k: "" if v is None else v for k, v in (params or {}).items()})[:100]


_REGISTRY: dict[str, Job] = {}


def job(job_id, *, title=None, connector=None, description="", cron=None, lock=None, after=(), params=(),
        timeout=3600.0, refresh=False, freshness=False, stale_minutes=None, system=False, counters=(),
        permission=None):
    """Register the decorated function as a job under a stable id."""
    if cron:
        make_trigger(cron, "UTC")  # fail at import, not at 02:00
    clash = set(counters) & set(STANDARD_COUNTERS)
    if clash:
        raise ValueError(f"{job_id}: {sorted(clash)} are standard counters; declare only new ones")
    unknown = {name for _, name, _, _ in string.Formatter().parse(lock or "") if name} - {p.name for p in params}
    if unknown:
        raise ValueError(f"{job_id}: lock {lock!r} names {sorted(unknown)}, which are not its params")

    def decorator(func):
        _REGISTRY[job_id] = Job(
            id=job_id, func=func, title=title or job_id,
            connector=connector or job_id.split(".", 1)[0],
            description=description or _first_line(func.__doc__),
            cron=cron, lock=lock, after=tuple(after), params=tuple(params), timeout=timeout,
            refresh=refresh, freshness=freshness, stale_minutes=stale_minutes, system=system,
            counters=tuple(counters), permission=permission,
        )
        return func

    return decorator


def _first_line(doc):
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def get_job(job_id) -> Job:
    """The job registered under job_id; JobError (shown to the user) when there is none."""
    job_def = _REGISTRY.get(job_id)
    if job_def is None:
        raise JobError(f"Unknown job: {job_id!r}")
    return job_def


def find_job(job_id) -> Optional[Job]:
    """The job registered under job_id, or None."""
    return _REGISTRY.get(job_id)


def job_ids():
    """Every registered job id."""
    return list(_REGISTRY)


def all_jobs():
    return sorted(_REGISTRY.values(), key=lambda j: (j.system, j.connector, j.id))


def dependents_of(job_id):
    """Jobs that declared they run after job_id."""
    return [j for j in _REGISTRY.values() if job_id in j.after]


_MAX_PARAM_LENGTH = 500


def parse_params(job_def: Job, raw: dict) -> dict:
    """Validate raw string (or JSON) params against the job's declared params."""
    declared = {p.name: p for p in job_def.params}
    unknown = sorted(set(raw) - set(declared))
    if unknown:
        accepted = ", ".join(sorted(declared)) or "none"
        raise JobError(f"Unknown parameter {unknown[0]!r} for {job_def.id} (accepted: {accepted})")
    parsed = {}
    for name, spec in declared.items():
        value = raw.get(name)
        if value is None or value == "":
            if spec.required:
                raise JobError(f"Parameter {name!r} is required")
            if spec.default is not None:
                parsed[name] = spec.default
            continue
        parsed[name] = _coerce(spec, value)
    return parsed


def _coerce(spec: Param, value):
    if isinstance(value, str) and len(value) > _MAX_PARAM_LENGTH:
        raise JobError(f"Parameter {spec.name!r} is longer than {_MAX_PARAM_LENGTH} characters")
    try:
        result = _CONVERTERS[spec.type](value)
    except (ValueError, TypeError):
        raise JobError(f"Parameter {spec.name!r} must be a {spec.type}, not {value!r}") from None
    if spec.choices and result not in spec.choices:
        raise JobError(f"Parameter {spec.name!r} must be one of {', '.join(map(str, spec.choices))}")
    return result


def _to_bool(value):
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _to_date(value):
    return date.fromisoformat(str(value)).isoformat()


def _to_upload_ref(value):
    """A stored upload's content hash (the route stores the file and passes its sha256)."""
    text = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError(value)
    return text


def _to_int(value):
    if isinstance(value, bool):
        raise ValueError(value)
    return int(str(value).strip())


_CONVERTERS = {"str": str, "int": _to_int, "float": float, "bool": _to_bool, "date": _to_date,
               "file": _to_upload_ref}
