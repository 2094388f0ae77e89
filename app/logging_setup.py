"""stderr logging where every line written while a run executes carries its run id."""
import contextvars
import logging

current_run_id = contextvars.ContextVar("current_run_id", default=None)

FORMAT = "%(asctime)s %(levelname)s %(name)s run=%(run_id)s %(message)s"


class RunIdFilter(logging.Filter):
    """Stamp each record with the run executing in this thread ('-' outside runs)."""

    def filter(self, record):
        if getattr(record, "run_id", None) is None:  # a run's own logger passes it explicitly
            record.run_id = current_run_id.get() or "-"
        return True


def configure(level=logging.INFO):
    root = logging.getLogger()
    if any(isinstance(f, RunIdFilter) for h in root.handlers for f in h.filters):
        return
    if not root.handlers:
        logging.basicConfig(level=level, format=FORMAT)
    for handler in root.handlers:
        handler.addFilter(RunIdFilter())
        if handler.formatter is None or "run_id" not in (handler.formatter._fmt or ""):
            handler.setFormatter(logging.Formatter(FORMAT))
