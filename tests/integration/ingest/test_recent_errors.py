"""Status's recent errors are the problems of now, not the last error of a file going again."""

from __future__ import annotations

from sqlalchemy import update

from tests.integration.ingest.core import MIB, Core
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
