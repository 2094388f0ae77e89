"""Pages: Jobs, Runs, Run detail, Logs, Schedules."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..auth import activity
from ..auth.permissions import permission_required
from .. import settings
from ..extensions import db
from ..filters import choice_arg, date_arg, page_args, text_arg
from . import history
from .models import STATUSES, TRIGGERS, Run, RunLog, Schedule
from .registry import JobError, all_jobs, find_job, get_job
from .schedules import ScheduleError, delete, describe, next_fire_times, save, schedules_for, touch
from .service import cancel
from .trigger import RunRequestError, params_with_files, refused, request_run, require_job_permission, respond

bp = Blueprint("runs", __name__)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _job_or_404(job_id):
    try:
        return get_job(job_id)
    except JobError as exc:
        abort(404, str(exc))


@bp.get("/jobs")
def jobs():
    schedules = {}
    for s in schedules_for():
        schedules.setdefault(s.job_id, []).append(s)
    values = settings.get_many()
    return render_template("runs/jobs.html", jobs=all_jobs(), schedules=schedules, last=history.last_runs(),
                           disabled=set(values["disabled_jobs"]), next_fires=history.next_fires(values=values))


@bp.post("/jobs/<job_id>/run")
@permission_required("trigger_runs")
def run_now(job_id):
    _job_or_404(job_id)
    try:
        result = request_run(job_id, params_with_files(find_job(job_id), _form_params(job_id)))
    except RunRequestError as exc:
        return refused(exc, back=url_for("runs.jobs"))
    return respond([result])


@bp.post("/jobs/<job_id>/toggle")
@permission_required("manage_schedules")
def toggle_job(job_id):
    _job_or_404(job_id)
    disabled = set(settings.get("disabled_jobs"))
    enabling = job_id in disabled
    disabled.symmetric_difference_update({job_id})
    settings.put("disabled_jobs", sorted(disabled), current_user.username)
    activity.record("job_toggled", target=job_id, detail="enabled" if enabling else "disabled")
    db.session.commit()
    flash(f"{job_id} {'enabled' if enabling else 'disabled'}: its schedules {'fire again' if enabling else 'no longer fire'}.", "success")
    return redirect(url_for("runs.jobs"))


@bp.get("/runs")
def runs_list():
    page, per_page = page_args()
    job_ids = [j.id for j in all_jobs()]
    filters = {"job": choice_arg("job", job_ids), "status": choice_arg("status", STATUSES),
               "trigger": choice_arg("trigger", TRIGGERS)}
    start, end = date_arg("from"), date_arg("to", end_of_day=True)
    query = select(Run).order_by(Run.id.desc())
    if filters["job"]:
        query = query.where(Run.job_id == filters["job"])
    if filters["status"]:
        query = query.where(Run.status == filters["status"])
    if filters["trigger"]:
        query = query.where(Run.trigger == filters["trigger"])
    if start:
        query = query.where(Run.queued_at >= start)
    if end:
        query = query.where(Run.queued_at < end)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return render_template("runs/list.html", pagination=pagination, filters=filters, job_ids=job_ids,
                           statuses=STATUSES, triggers=TRIGGERS)


@bp.get("/runs/<int:run_id>")
def run_detail(run_id):
    run = db.session.get(Run, run_id)
    if run is None:
        abort(404, f"No run {run_id}")
    schedule = db.session.get(Schedule, run.schedule_id) if run.schedule_id else None
    return render_template("runs/detail.html", run=run, schedule=schedule)


@bp.post("/runs/<int:run_id>/cancel")
@permission_required("trigger_runs")
def cancel_run(run_id):
    run = db.session.get(Run, run_id)
    if run is None:
        abort(404, f"No run {run_id}")
    if cancel(run, current_user.username):
        activity.record("run_cancelled", target=run.job_id, detail=f"run {run.id}")
        flash(f"Terminate requested for run {run.id}.", "warning")
    else:
        flash(f"Run {run.id} already {run.status}.", "info")
    db.session.commit()
    return redirect(url_for("runs.run_detail", run_id=run_id))


@bp.get("/logs")
def logs():
    page, per_page = page_args()
    job_ids = [j.id for j in all_jobs()]
    job_id, level, text = choice_arg("job", job_ids), choice_arg("level", LEVELS), text_arg("q")
    start, end = date_arg("from"), date_arg("to", end_of_day=True)
    query = select(RunLog, Run.job_id).join(Run, Run.id == RunLog.run_id).order_by(RunLog.id.desc())
    if job_id:
        query = query.where(Run.job_id == job_id)
    if level:
        query = query.where(RunLog.level.in_(LEVELS[LEVELS.index(level):]))
    if text:
        query = query.where(RunLog.message.ilike(f"%{text}%"))
    if start:
        query = query.where(RunLog.at >= start)
    if end:
        query = query.where(RunLog.at < end)
    rows = db.session.execute(query.limit(per_page + 1).offset((page - 1) * per_page)).all()
    return render_template("runs/logs.html", rows=rows[:per_page], has_next=len(rows) > per_page, page=page,
                           per_page=per_page, job_ids=job_ids, levels=LEVELS,
                           filters={"job": job_id, "level": level, "q": text})


# --- schedules --------------------------------------------------------------

@bp.get("/schedules")
def schedules():
    return render_template("runs/schedules.html", schedules=schedules_for(), jobs=all_jobs(),
                           describe=describe, next_fire_times=next_fire_times, form={}, errors=None)


def _schedule_or_404(schedule_id):
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        abort(404, f"No schedule {schedule_id}")
    return schedule


def _form_params(job_id):
    try:
        declared = get_job(job_id).params
    except JobError:
        return {}
    return {p.name: request.form.get(f"param_{p.name}", "") for p in declared}


def _save_from_form(schedule):
    form = request.form
    job_id = form.get("job_id", "") if schedule is None or not schedule.system else schedule.job_id
    for scheduled in {job_id, schedule.job_id if schedule is not None else job_id}:  # the new job and the old
        require_job_permission(scheduled, "Scheduling")
    return save(schedule, job_id=job_id, cron=form.get("cron", ""), tz_name=form.get("timezone", ""),
                name=form.get("name", ""), enabled=form.get("enabled") == "on", params=_form_params(job_id))


@bp.post("/schedules")
@permission_required("manage_schedules")
def create_schedule():
    try:
        schedule = _save_from_form(None)
        db.session.flush()
    except ScheduleError as exc:
        db.session.rollback()
        return render_template("runs/schedules.html", schedules=schedules_for(), jobs=all_jobs(),
                               describe=describe, next_fire_times=next_fire_times,
                               form=request.form, errors=str(exc)), 400
    activity.record("schedule_created", target=schedule.job_id, detail=f"schedule {schedule.id} cron={schedule.cron}")
    db.session.commit()
    flash(f"Schedule {schedule.id} created: {describe(schedule.cron)}.", "success")
    return redirect(url_for("runs.schedules"))


@bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
def edit_schedule(schedule_id):
    schedule = _schedule_or_404(schedule_id)
    if request.method == "GET":
        return render_template("runs/schedule_edit.html", schedule=schedule, jobs=all_jobs(), errors=None,
                               form=None, describe=describe, next_fire_times=next_fire_times)
    if not current_user.can("manage_schedules"):
        abort(403, "You need the 'manage_schedules' permission to do this.")
    try:
        _save_from_form(schedule)
    except ScheduleError as exc:
        db.session.rollback()
        schedule = _schedule_or_404(schedule_id)
        return render_template("runs/schedule_edit.html", schedule=schedule, jobs=all_jobs(), errors=str(exc),
                               form=request.form, describe=describe, next_fire_times=next_fire_times), 400
    activity.record("schedule_updated", target=schedule.job_id, detail=f"schedule {schedule.id} cron={schedule.cron}")
    db.session.commit()
    flash(f"Schedule {schedule.id} saved.", "success")
    return redirect(url_for("runs.schedules"))


@bp.post("/schedules/<int:schedule_id>/toggle")
@permission_required("manage_schedules")
def toggle_schedule(schedule_id):
    schedule = _schedule_or_404(schedule_id)
    require_job_permission(schedule.job_id, "Scheduling")
    schedule.enabled = not schedule.enabled
    touch(schedule)
    activity.record("schedule_toggled", target=schedule.job_id,
                    detail=f"schedule {schedule.id} {'enabled' if schedule.enabled else 'disabled'}")
    db.session.commit()
    flash(f"Schedule {schedule.id} {'enabled' if schedule.enabled else 'disabled'}.", "success")
    return redirect(url_for("runs.schedules"))


@bp.post("/schedules/<int:schedule_id>/delete")
@permission_required("manage_schedules")
def delete_schedule(schedule_id):
    schedule = _schedule_or_404(schedule_id)
    try:
        delete(schedule)
    except ScheduleError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("runs.schedules")), 303
    activity.record("schedule_deleted", target=schedule.job_id, detail=f"schedule {schedule_id} cron={schedule.cron}")
    db.session.commit()
    flash(f"Schedule {schedule_id} deleted.", "success")
    return redirect(url_for("runs.schedules"))


@bp.post("/schedules/<int:schedule_id>/run-now")
@permission_required("manage_schedules")
def run_schedule_now(schedule_id):
    schedule = _schedule_or_404(schedule_id)
    try:
        run, created = request_run(schedule.job_id, schedule.params, schedule_id=schedule.id, raw_params=False,
                                   note=f" from schedule {schedule.id}")
    except RunRequestError as exc:
        return refused(exc, back=url_for("runs.schedules"))
    activity.record("schedule_run_now", target=schedule.job_id, detail=f"schedule {schedule.id} run {run.id}")
    db.session.commit()
    return respond([(run, created)])


@bp.get("/api/schedules/preview")
def schedule_preview():
    """Validate a cron as the user types: its words and next fire times, or the error."""
    from flask import jsonify
    cron, tz_name = request.args.get("cron", ""), request.args.get("timezone", "")
    try:
        times = next_fire_times(cron, tz_name, 5)
    except ScheduleError as exc:
        return jsonify(error=str(exc), status=400), 400
    return jsonify(description=describe(cron), next=[t.isoformat() for t in times])
