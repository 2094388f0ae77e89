"""Push jobs for the tests of the push shape: app.config["PUSH_TEST_RECORDS"] sent to the fake target."""
import threading

import requests
from flask import current_app

from app.connectors.base.push import PushStream, RecordRejected, RecordSkipped, cursor_value, push
from app.runs.registry import Param, job

# A record whose data is HOLD waits in send() until the test sets RELEASE (to cancel a run mid-batch).
HOLD, RELEASE, RUNNING = "hold", threading.Event(), {}


def _base():
    return current_app.config["PUSH_TEST_URL"]


def _records():
    return current_app.config["PUSH_TEST_RECORDS"]


def _lookup(client_key, _record):
    found = requests.get(f"{_base()}/things", params={"client_key": client_key}, timeout=10)
    found.raise_for_status()
    return found.json()[0]["id"] if found.json() else None


def _fetch(keys):
    wanted = set(keys)
    return [r for r in _records() if r["key"] in wanted]


THINGS = PushStream(connector="tests", name="things", key=lambda r: r["key"], cursor=lambda r: r["key"],
                    lookup=_lookup, fetch=_fetch)


def send(record, entry):
    """Create or update one thing at the fake; its 422 is this record's failure alone."""
    if record["data"] == "no-contact":
        raise RecordSkipped(f"{record['key']}: its contact is not synced yet")
    if record["data"] == HOLD:
        RELEASE.wait(10)
    body = {"key": record["key"], "client_key": entry.client_key, "data": record["data"]}
    if entry.target_id:
        response = requests.put(f"{_base()}/things/{entry.target_id}", json=body, timeout=10)
    else:
        response = requests.post(f"{_base()}/things", json=body, timeout=10)
    if response.status_code == 422:
        raise RecordRejected(f"The target answered 422: {response.json()['error']}")
    response.raise_for_status()
    return response.json()["id"]


@job("tests.push_things", title="Push things", connector="tests", counters=("pushed", "skipped"),
     params=(Param("batch", "int", 3), Param("workers", "int", 2), Param("incremental", "bool", False)))
def push_things(ctx):
    """Pushes the configured records to the fake target (from the cursor on, when incremental)."""
    RUNNING["ctx"] = ctx
    since = cursor_value(THINGS) if ctx.params.get("incremental") else ""
    source = (r for r in _records() if r["key"] >= since)  # inclusive: the boundary comes again
    outcome = push(ctx, THINGS, source, send, batch_size=ctx.params["batch"], workers=ctx.params["workers"],
                   total=len(_records()))
    ctx.summary = f"Pushed {outcome['synced']:,} things"
