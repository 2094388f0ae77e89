"""QuickBooks Online's error shapes: every /v3 error is {"Fault": {"Error": [{Message, Detail, code}], "type"},
"time"}, and a batch item's error is the inner {"Error": [...], "type"} under the item's "Fault"."""
import datetime as dt

AUTH_MESSAGE = "message=AuthenticationFailed; errorCode=003200; statusCode=401"
THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
VALIDATION = "ValidationFault"


def iso(seconds):
    """A moment (epoch seconds) as QBO writes times: ISO 8601 with milliseconds and the offset."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="milliseconds")


def fault(kind, code, message, detail):
    """The inner Fault object."""
    return {"Error": [{"Message": message, "Detail": detail, "code": str(code)}], "type": kind}


def validation(code, message, detail=None):
    return fault(VALIDATION, code, message, detail or message)


def authentication():
    return fault("AUTHENTICATION", "3200", AUTH_MESSAGE, "Token expired or invalid")


def throttled():
    return fault("SERVICE", "3001", THROTTLE_MESSAGE, "The request limit was reached.")


def system(status):
    """The fail_next fault of a 5xx (a 429 is the throttle fault)."""
    if status == 429:
        return throttled()
    if status == 503:
        return fault("SystemFault", "3003", "Service Unavailable",
                     "The service is temporarily unavailable; try again later.")
    return fault("SystemFault", "10000", "An application error has occurred while processing your request",
                 "System Failure Error: An unexpected error occurred while accessing or saving your data.")


def parse_error():
    return validation("4000", "Error parsing query", "QueryParserError: Encountered an unsupported query")


def not_found(what):
    return validation("610", "Object Not Found", f"Object Not Found: {what}")
