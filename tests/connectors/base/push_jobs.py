"""A push job for the tests of the push shape: app.config["PUSH_TEST_RECORDS"] sent to the fake target."""
import requests
from flask import current_app

from app.connectors.base.push import PushStream, RecordRejected, push
from app.runs.registry import Param, job


def _base():
    return current_app.config["PUSH_TEST_URL"]


def _lookup(client_key, _record):
    found = requests.get(f"{_base()}/things", params={"client_key": client_key}, timeout=10).json()
    return found[0]["id"] if found else None


THINGS = PushStream(connector="tests", name="things", key=lambda r: r["key"], cursor=lambda r: r["key"],
                    lookup=_lookup)


def send(record, entry):
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
     params=(Param("batch", "int", 3),))
def push_things(ctx):
    """Pushes the configured records to the fake target."""
    outcome = push(ctx, THINGS, current_app.config["PUSH_TEST_RECORDS"], send, batch_size=ctx.params["batch"],
                   workers=2, total=len(current_app.config["PUSH_TEST_RECORDS"]))
    ctx.summary = f"Pushed {outcome['synced']:,} things"
