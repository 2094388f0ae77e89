"""What REST clients of every connector share: a closing session, the API's own error text, a request
error's root cause."""


class SessionClient:
    """A client owning a requests.Session (self.session): usable as `with Client(...) as client:`."""

    session = None

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def api_message(response):
    """The API's own error text ({"message": "...", "errors": {field: [...]}}), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if not isinstance(body, dict):
        return str(body)[:200]
    message = str(body.get("message") or response.reason)
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        details = "; ".join(f"{field}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
                            for field, msgs in errors.items())
        message = f"{message} ({details})"
    return message


def root_cause(exc):
    """The innermost error of a chain (urllib3's reason behind requests' ConnectionError)."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return str(exc) or type(exc).__name__
