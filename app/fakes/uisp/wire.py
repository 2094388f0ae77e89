"""How the fake speaks: query parameters, paging, error bodies and JSON responses (UISP's own shapes)."""
import datetime as _dt
import json

from flask import Response, request


def money(c):
    return round(c / 100.0, 2)


def _json(obj, status=200, headers=None):
    return Response(json.dumps(obj, separators=(",", ":")), status=status, mimetype="application/json",
                    headers=headers)


def err(code, message, errors=None):
    body = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return _json(body, code)


class BadRequest(Exception):
    pass


def _int(name, default=None, minimum=0):
    v = request.args.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise BadRequest(name)
    if n < minimum:
        raise BadRequest(name)
    return n


def _int_list(name, allowed):
    out = []
    for v in request.args.getlist(name + "[]") + request.args.getlist(name):
        try:
            n = int(v)
        except ValueError:
            raise BadRequest(name)
        if n not in allowed:
            raise BadRequest(name)
        out.append(n)
    return out


def _date(name):
    v = request.args.get(name)
    if not v:
        return None
    try:
        return _dt.datetime.strptime(v, "%Y-%m-%d").date().toordinal()
    except ValueError:
        raise BadRequest(name)


def _choice(name, allowed, default):
    v = request.args.get(name)
    if v is None or v == "":
        return default
    if v not in allowed:
        raise BadRequest(name)
    return v


def _page(items):
    offset = _int("offset", 0)
    limit = _int("limit", None)
    if limit is None:
        return items[offset:]
    return items[offset:offset + limit]
