"""The htmx fragments: Refresh Data button, run panel, log tail, cron preview, and their errors."""
import json
import re

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.runs import fragments
from app.runs.models import Run, RunLog
from tests.conftest import create_user, put_settings

from .helpers import queue, run_job, wait_status

HX = {"HX-Request": "true"}


def html(response):
    return response.get_data(as_text=True)


def hx_trigger(response):
    raw = response.headers.get("HX-Trigger")
    return json.loads(raw) if raw else {}


def refresh_text(response):
    return re.search(r'<span id="refresh-text">(.*?)</span>', html(response), re.S).group(1)


def button_disabled(response):
    return re.search(r'<button id="refresh-btn"[^>]*\sdisabled[\s>]', html(response)) is not None


def run_ids(response):
    return [int(x) for x in re.search(r'data-run-ids="([\d,]+)"', html(response)).group(1).split(",")]


def seqs(response):
    return [int(x) for x in re.findall(r'class="log-line[^"]*" data-seq="(\d+)"', html(response))]


def set_run(app, run_id, **values):
    """Put a run in a given state (status, progress …) as the executor would, committed."""
    with app.app_context():
        run = db.session.get(Run, run_id)
        for key, value in values.items():
            setattr(run, key, value)
        db.session.commit()


def add_lines(app, run_id, *messages):
    with app.app_context():
        for seq, message in enumerate(messages, start=1):
            db.session.add(RunLog(run_id=run_id, seq=seq, level="INFO", message=message))
        db.session.commit()


@pytest.fixture
def viewer(app, auth):
    with app.app_context():
        create_user("bob", roles=("viewer",))
    assert auth.login("bob").status_code == 302
    return auth


# --- Refresh Data -----------------------------------------------------------------------------

def test_refresh_button_shows_progress_then_outcome_then_resets(app, admin, request):
    started = admin.post("/api/refresh", headers=HX)
    assert started.status_code == 202
    assert 'id="refresh-btn"' in html(started) and "btn-warning loading" in html(started)
    assert refresh_text(started) == "Refreshing…"
    (run_id,) = run_ids(started)
    assert f'data-created="{run_id}"' in html(started)
    poll_url = f"/fragments/refresh?ids={run_id}"
    assert 'hx-trigger="every 800ms"' in html(started) and poll_url.replace(",", "%2C") in html(started)

    set_run(app, run_id, status="running", started_at=utcnow(), progress_done=420, progress_total=1000)
    busy = admin.client.get(poll_url, headers=HX)
    assert busy.status_code == 200 and refresh_text(busy) == "Refreshing… 420/1,000"
    assert 'hx-trigger="every 800ms"' in html(busy) and button_disabled(busy)
    assert hx_trigger(busy) == {}

    set_run(app, run_id, status="queued", started_at=None)  # hand it back to the executor
    request.getfixturevalue("executor")
    wait_status(app, run_id, "succeeded")
    finishing = admin.client.get(poll_url, headers=HX)
    # The last frame: the full count, the outcome for the toast, no more polling, and the done state next.
    assert refresh_text(finishing) == "Refreshing… 50/50"
    assert "every 800ms" not in html(finishing) and 'hx-trigger="load delay:400ms"' in html(finishing)
    event = hx_trigger(finishing)["runs-finished"]
    assert event["succeeded"] is True
    (toast,) = event["toasts"]
    assert re.fullmatch(r"Refreshed 50 items in \d+\.\d s", toast["message"]) and toast["kind"] == "success"
    assert toast["url"] is None

    done = admin.client.get(poll_url + "&done=1", headers=HX)
    assert refresh_text(done) == "✓ Refresh Data" and "btn-success" in html(done) and not button_disabled(done)
    assert 'hx-trigger="load delay:2s"' in html(done) and hx_trigger(done) == {}
    idle = admin.client.get("/fragments/refresh", headers=HX)
    assert refresh_text(idle) == "Refresh Data" and "hx-trigger" not in html(idle)


def test_refresh_button_reports_a_failure_with_a_link(app, admin, executor):
    put_settings(app, global_refresh_jobs=["tests.fail"])
    (run_id,) = run_ids(admin.post("/api/refresh", headers=HX))
    wait_status(app, run_id, "failed")
    finishing = admin.client.get(f"/fragments/refresh?ids={run_id}", headers=HX)
    event = hx_trigger(finishing)["runs-finished"]
    assert event["succeeded"] is False
    assert event["toasts"] == [{"message": "Always fails failed: RuntimeError: source answered 500: upstream exploded",
                                "kind": "danger", "url": f"/runs/{run_id}"}]
    done = admin.client.get(f"/fragments/refresh?ids={run_id}&done=1", headers=HX)
    assert refresh_text(done) == "Refresh Data"


def test_refresh_in_flight_shows_on_page_load_and_a_second_click_joins_it(app, admin):
    run_id, _ = queue(app, "tests.sleepy", trigger="login")
    page = html(admin.client.get("/jobs"))
    assert f'data-run-ids="{run_id}"' in page and "Refreshing…" in page
    joined = admin.post("/api/refresh", headers=HX)
    assert joined.status_code == 200 and run_ids(joined) == [run_id] and 'data-created=""' in html(joined)
    assert hx_trigger(joined) == {"run-toast": {"message": f"Already in flight: run {run_id}", "kind": "info"}}


def test_refresh_with_no_jobs_says_so_and_stays_idle(app, admin):
    put_settings(app, global_refresh_jobs=[])
    response = admin.post("/api/refresh", headers=HX)
    assert response.status_code == 200 and refresh_text(response) == "Refresh Data"
    assert "No jobs are part of the global refresh" in hx_trigger(response)["run-toast"]["message"]


# --- run panel --------------------------------------------------------------------------------

def test_run_now_answers_a_panel_that_polls_until_the_run_succeeds(app, admin, executor):
    response = admin.post("/jobs/tests.sleepy/run", data={"param_steps": "2", "param_delay": "0"}, headers=HX)
    assert response.status_code == 202
    run_id = int(re.search(r'data-role="run-link">(\d+)<', html(response)).group(1))
    panel_url = f"/fragments/runs/{run_id}/panel"
    # Polls even if the run already ended, so its success still refreshes the data area.
    assert f'hx-get="{panel_url}" hx-trigger="every 800ms"' in html(response)
    wait_status(app, run_id, "succeeded")
    final = admin.client.get(panel_url, headers=HX)
    body = html(final)
    assert "hx-trigger" not in body and 'data-status="succeeded"' in body
    assert 'data-role="run-count">20 / 20<' in body and 'style="width: 100%">100%<' in body
    assert re.search(r'data-role="run-message">Refreshed 20 items in \d+\.\d s<', body)
    assert hx_trigger(final) == {"run-ended": {"run_id": run_id, "status": "succeeded"},
                                 "run-succeeded": {"run_id": run_id}}


def test_panel_of_a_live_run_polls_and_a_failed_run_refreshes_only_pages_that_ask(app, admin, request):
    run_id, _ = queue(app, "tests.fail")
    set_run(app, run_id, status="running", started_at=utcnow(), progress_done=3, progress_total=12)
    live = admin.client.get(f"/fragments/runs/{run_id}/panel", headers=HX)
    assert 'hx-trigger="every 800ms"' in html(live) and 'data-role="run-count">3 / 12<' in html(live)
    assert 'style="width: 25%">25%<' in html(live) and hx_trigger(live) == {}
    set_run(app, run_id, status="queued", started_at=None)
    request.getfixturevalue("executor")
    wait_status(app, run_id, "failed")
    final = admin.client.get(f"/fragments/runs/{run_id}/panel", headers=HX)
    assert "hx-trigger" not in html(final) and "upstream exploded" in html(final)
    # run-succeeded (what a cached page's data area waits for) is not sent; run-ended is (on_any_end pages)
    assert hx_trigger(final) == {"run-ended": {"run_id": run_id, "status": "failed"}}


def test_run_now_with_bad_params_answers_an_error_fragment(admin):
    response = admin.post("/jobs/tests.sleepy/run", data={"param_steps": "lots"}, headers=HX)
    assert response.status_code == 400
    assert 'data-role="run-error"' in html(response) and "<html" not in html(response)


def test_viewer_gets_403_on_the_post_fragments(app, viewer):
    for url in ("/api/refresh", "/jobs/tests.noop/run"):
        assert viewer.post(url, headers=HX).status_code == 403, url
    with app.app_context():
        assert db.session.scalar(select(Run.id)) is None


# --- run page: log tail -----------------------------------------------------------------------

def test_log_tail_returns_only_lines_after_and_keeps_polling_while_live(app, admin):
    run_id, _ = queue(app, "tests.sleepy")
    set_run(app, run_id, status="running", started_at=utcnow(), counters={"matched": 7})
    add_lines(app, run_id, "one", "two", "three")
    response = admin.client.get(f"/fragments/runs/{run_id}/tail?after=1&seen=running", headers=HX)
    assert response.status_code == 200 and seqs(response) == [2, 3]
    body = html(response)
    assert "two" in body and ">one<" not in body.replace(" ", "")
    # The next poll asks for what follows line 3; the facts come out of band.
    assert f'hx-get="/fragments/runs/{run_id}/tail?after=3&amp;seen=running" hx-trigger="every 800ms"' in body
    assert '<span id="run-status" hx-swap-oob="true">' in body and 'id="log-state" hx-swap-oob="true">live<' in body
    assert 'data-counter="fetched"' in body and 'data-counter="matched">7<' in body  # the job's own counter too
    assert hx_trigger(response) == {}
    empty = admin.client.get(f"/fragments/runs/{run_id}/tail?after=3&seen=running", headers=HX)
    assert empty.status_code == 200 and seqs(empty) == []


def test_log_tail_stops_once_the_run_ended_and_the_log_is_drained(app, admin, executor):
    run = run_job(app, "tests.sleepy", {"steps": 3, "delay": 0})
    with app.app_context():
        total = len(db.session.scalars(select(RunLog.seq).where(RunLog.run_id == run.id)).all())
    seen_live = admin.client.get(f"/fragments/runs/{run.id}/tail?after=0&seen=running", headers=HX)
    assert seen_live.status_code == fragments.STOP_POLLING
    assert seqs(seen_live) == list(range(1, total + 1))
    body = html(seen_live)
    assert "finished status=succeeded" in body and "hx-get" not in body.split('id="run-tail"')[1].split(">")[0]
    assert '<span id="terminate" hx-swap-oob="delete"></span>' in body and 'id="log-state" hx-swap-oob="true"><' in body
    (toast,) = hx_trigger(seen_live)["runs-finished"]["toasts"]
    assert toast["message"].startswith("Refreshed 30 items in") and toast["kind"] == "success"
    # A page opened after the end shows the log and stops, without announcing the end again.
    reopened = admin.client.get(f"/fragments/runs/{run.id}/tail?after=0&seen=succeeded", headers=HX)
    assert reopened.status_code == fragments.STOP_POLLING and hx_trigger(reopened) == {}


def test_a_long_log_is_paged_at_once_before_the_poll_stops(app, admin, monkeypatch):
    monkeypatch.setattr(fragments, "MAX_LOG_LINES", 2)
    run_id, _ = queue(app, "tests.sleepy")
    set_run(app, run_id, status="succeeded", started_at=utcnow(), finished_at=utcnow())
    add_lines(app, run_id, "one", "two", "three")
    first = admin.client.get(f"/fragments/runs/{run_id}/tail?after=0&seen=succeeded", headers=HX)
    assert first.status_code == 200 and seqs(first) == [1, 2]
    assert 'tail?after=2&amp;seen=succeeded" hx-trigger="load"' in html(first)
    last = admin.client.get(f"/fragments/runs/{run_id}/tail?after=2&seen=succeeded", headers=HX)
    assert last.status_code == fragments.STOP_POLLING and seqs(last) == [3]


def test_run_page_renders_the_poller_and_every_counter(app, admin):
    run_id, _ = queue(app, "tests.sleepy")
    set_run(app, run_id, counters={"matched": 7})
    page = html(admin.client.get(f"/runs/{run_id}"))
    assert f'hx-get="/fragments/runs/{run_id}/tail?after=0&amp;seen=queued" hx-trigger="load"' in page
    assert page.count("data-counter=") == 6 and 'data-counter="matched">7<' in page
    assert 'id="terminate"' in page


# --- cron preview -----------------------------------------------------------------------------

def test_cron_preview_fragment(admin):
    ok = admin.client.get("/fragments/schedules/preview?cron=0+2+*+*+*&timezone=UTC", headers=HX)
    assert ok.status_code == 200 and 'id="cron-preview"' in html(ok) and "text-success" in html(ok)
    assert re.search(r"At 02:00\. Next: \d{4}-\d\d-\d\d 02:00, \d{4}-\d\d-\d\d 02:00, \d{4}-\d\d-\d\d 02:00<", html(ok))
    bad = admin.client.get("/fragments/schedules/preview?cron=0+99+*+*+*", headers=HX)
    assert bad.status_code == 400 and "text-danger" in html(bad) and "Invalid cron" in html(bad)
    bad_tz = admin.client.get("/fragments/schedules/preview?cron=0+2+*+*+*&timezone=Mars/Base", headers=HX)
    assert bad_tz.status_code == 400 and "Mars/Base" in html(bad_tz) and "text-danger" in html(bad_tz)
    blank = admin.client.get("/fragments/schedules/preview?cron=", headers=HX)
    assert blank.status_code == 200 and "Next" not in html(blank)


def test_schedule_form_shows_the_preview_of_its_cron(app, admin):
    page = html(admin.client.get("/schedules"))
    assert 'hx-get="/fragments/schedules/preview" hx-trigger="input changed delay:300ms"' in page
    failed = admin.post("/schedules", data={"job_id": "tests.noop", "cron": "0 99 * * *"})
    assert failed.status_code == 400 and re.search(r'id="cron-preview" class="col-12 small text-danger"', html(failed))


# --- errors and login -------------------------------------------------------------------------

def test_fragment_errors_are_small_fragments(admin):
    missing = admin.client.get("/fragments/runs/999/panel", headers=HX)
    assert missing.status_code == 404 and 'data-role="run-error"' in html(missing) and "<html" not in html(missing)
    bad = admin.client.get("/fragments/refresh?ids=a,b", headers=HX)
    assert bad.status_code == 400 and "comma-separated" in html(bad)


def test_fragments_need_a_login(client):
    # htmx follows HX-Redirect with a full page load; a 302 would swap the login page into the navbar.
    for url in ("/fragments/refresh", "/fragments/runs/1/tail", "/fragments/schedules/preview?cron=0+2+*+*+*"):
        response = client.get(url, headers=HX)
        assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login", url
        assert response.get_data() == b"", url
