"""The snapshot shape: an all-or-nothing pull of a source into the cache.

A pull stages what it reads where no page looks (staging tables, an invisible batch), then
publishes it in one transaction. If anything fails — the source, our database, a Terminate, a
timeout — what was staged is discarded and the cache stays exactly as it was.
"""


class Snapshot:
    """What one pull staged so far; a connector implements the hooks for its own storage."""

    def begin(self):
        """Prepare an empty staging area (and clear what a dead run left there)."""

    def publish(self):
        """Make the staged data the cache's, in one transaction; return what the job reports."""
        raise NotImplementedError

    def discard(self, error):
        """Remove everything staged; `error` is why the pull stopped. Must not raise."""


def take(ctx, snapshot, fill):
    """Run fill(snapshot) to stage the source, then publish; on any failure discard and re-raise.

    Returns publish()'s result. A Terminate is honoured right before publishing, so a pull
    cancelled at its last page still changes nothing.
    """
    snapshot.begin()
    try:
        fill(snapshot)
        ctx.check_cancelled()
        return snapshot.publish()
    except BaseException as exc:
        snapshot.discard(exc)
        raise
