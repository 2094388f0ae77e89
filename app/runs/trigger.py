"""One way to queue runs from a request, and one way to answer it (JSON, an htmx fragment, or a redirect).

Jobs' Run now, Refresh Data, the JSON API and every connector page go through request_run /
request_refresh and answer with respond(): the same JSON shape everywhere,
`{"runs": [run…], "created": [ids], "message": str|None}` plus `"run"` when one run was asked for.
"""
import json

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth import activity
from ..connectors.base.upload import UploadError, store_upload
from ..errors import wants_json
from ..extensions import db
from .refresh import start_global_refresh
from .registry import JobError, find_job
from .service import enqueue, wake_executor
from .views import run_json


class RunRequestError(Exception):
    """The run could not be queued (unknown job, bad parameters); the message is shown to the user."""


def require_job_permission(job_id, doing="Running"):
    """403 when the job asks for a permission (beyond trigger_runs) the signed-in user lacks: to run it,
    or to schedule it, which is running it later."""
    job_def = find_job(job_id)
    if job_def is not None and job_def.permission and not current_user.can(job_def.permission):
        abort(403, f"{doing} {job_def.title} needs the {job_def.permission} permission.")


def request_run(job_id, params=None, *, trigger="manual", schedule_id=None, raw_params=True, note=""):
    """Queue job_id for the signed-in user (or join its run in flight), audit it and wake the executor.

    Returns (run, created); RunRequestError for a job or parameters that are not acceptable, and 403
    when the job asks for a permission (beyond trigger_runs) the user lacks.
    """
    require_job_permission(job_id)
    try:
        run, created = enqueue(job_id, params or {}, trigger=trigger, requested_by=current_user.username,
                               schedule_id=schedule_id, raw_params=raw_params)
    except JobError as exc:
        db.session.rollback()
        raise RunRequestError(str(exc)) from None
    if created:
        activity.record("run_triggered", target=job_id, detail=f"run {run.id} params={run.params}{note}")
    db.session.commit()
    wake_executor()
    return run, created


def params_with_files(job_def, params):
    """The params with each uploaded file parameter stored (once, by content hash) and named by its sha256.

    A form field `param_<name>` (or `<name>` in the API's multipart) of a Param("…", "file").
    """
    params = dict(params)
    for spec in job_def.params:
        uploaded = request.files.get(f"param_{spec.name}") or request.files.get(spec.name)
        if spec.type != "file" or uploaded is None or not uploaded.filename:
            continue
        try:
            params[spec.name] = store_upload(uploaded, current_user.username).sha256
        except UploadError as exc:
            db.session.rollback()
            raise RunRequestError(str(exc)) from None
    return params


def request_refresh():
    """Queue every job of the global Refresh Data (joining runs in flight); returns [(run, created)]."""
    results = start_global_refresh("refresh", current_user.username)
    created = [run.id for run, was_created in results if was_created]
    activity.record("refresh", target="global", detail=f"runs {[r.id for r, _ in results]} new={created}")
    db.session.commit()
    wake_executor()
    return results


def wants_fragment():
    """An htmx request: it swaps in the HTML fragment the server renders."""
    return request.headers.get("HX-Request") == "true"


def respond(results, *, single=True, back=None, empty_message=None, panel=None):
    """Answer a run request: 202 with the runs when one was created, 200 when all were in flight.

    JSON callers get the shared shape, htmx callers a fragment (`panel`; by default the run panel,
    or the Refresh Data button for the global refresh's several runs) with the message as a toast
    (HX-Trigger), forms a flash and a redirect (to `back`, else the run's page).
    """
    created = [run.id for run, was_created in results if was_created]
    message = _message(results, empty_message)
    status = 202 if created else 200
    if wants_fragment():
        panel = panel or ("runs/_run_panel.html" if single else "runs/_refresh_button.html")
        body = render_template(panel, runs=[run for run, _ in results], created=created, message=message)
        headers = {"HX-Trigger": json.dumps({"run-toast": {"message": message, "kind": "info"}})} if message else {}
        return body, status, headers
    if wants_json() or request.is_json:
        body = {"runs": [run_json(run) for run, _ in results], "created": created, "message": message}
        if single and results:
            body["run"] = body["runs"][0]
        return jsonify(body), status
    for run, was_created in results:
        flash(message or f"Queued run {run.id} of {run_json(run)['title']}.", "success" if was_created else "info")
    target = back or (url_for("runs.run_detail", run_id=results[0][0].id) if results else url_for("runs.jobs"))
    return redirect(target), 303


def _message(results, empty_message):
    if not results:
        return empty_message
    in_flight = [run for run, created in results if not created]
    if not in_flight:
        return None
    return "Already in flight: " + ", ".join(f"run {run.id}" for run in in_flight)


def refused(exc, back=None):
    """Answer a RunRequestError: 400 with its message (JSON, fragment or flash + redirect)."""
    if wants_json() or request.is_json or wants_fragment():
        if wants_fragment():
            return render_template("runs/_run_error.html", message=str(exc)), 400
        return jsonify(error=str(exc), status=400), 400
    if back is None:
        abort(400, str(exc))
    flash(str(exc), "danger")
    return redirect(back), 303
