"""Status's recent errors are the problems of now, not the last error of a file going again."""

from __future__ import annotations

from sqlalchemy import update

from tests.integration.ingest.core import MIB, Core
from tests.integration.ingest.test_custody import queue_existing
from watchd.store.models import Job, JobState
from watchd.store.queries import recent_errors


def test_a_file_going_again_after_an_error_is_not_a_recent_error(core: Core):
    jobs = {state: core.queue(f"Roll1/{state.value}.mov", MIB) for state in JobState}
    with core.db.transaction() as session:
        for state, job in jobs.items():
            session.execute(
                update(Job).where(Job.id == job).values(state=state, last_error=f"was {state}")
            )
    with core.db.reading() as session:
        shown = {row["state"] for row in recent_errors(session, limit=100)}
    assert shown == {"waiting", "failed", "cancelled"}


def test_a_version_a_newer_one_of_its_file_replaced_is_not_a_recent_error(core: Core):
    old = core.queue("Roll1/A001.mov", MIB)
    source = core.drop / "Roll1/A001.mov"
    with source.open("ab") as grown:
        grown.write(b"more")
    core.run(old)  # cancelled: the file changed since it was queued
    assert core.job(old).state == JobState.CANCELLED
    with core.db.reading() as session:
        assert [row["job"] for row in recent_errors(session)] == [old], "until a newer one"
    newer = queue_existing(core, source)
    dismissed = core.queue("Roll1/A002.mov", MIB)
    core.cancel(dismissed)  # an operator's cancel stays shown
    with core.db.reading() as session:
        assert [row["job"] for row in recent_errors(session)] == [dismissed]
    assert newer > old
