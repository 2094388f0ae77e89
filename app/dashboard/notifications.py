"""Tell people about failed (optionally succeeded) runs and stale data, by email and webhook."""


def notify_run_finished(run):
    return 0


def notify_stale(item):
    return 0
