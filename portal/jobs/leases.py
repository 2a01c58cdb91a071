"""A run's lease: a run is believed alive until its `lease_until` (its start plus the job's
`timeout`). A worker killed mid-run (SIGKILL, the host lost) never writes its result, so a run still
"running" after its lease is interrupted: shown (JobRun.shown_status) and counted as a failure at
once (`stale`, `failed`), then recorded as "interrupted" by the next worker that starts, runs that
job or recovers (`interrupt_stale`), which also frees the slot so that it runs again."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import String, cast, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from portal.jobs.models import JobRun

#: Statuses that are failures (besides a stale "running" run).
FAILED = ("failed", "alert", "interrupted")


def stale(now: datetime) -> ColumnElement[bool]:
    """The condition "a run still running past its lease": its worker is gone."""
    return (JobRun.status == "running") & (JobRun.lease_until <= now)


def failed(now: datetime) -> ColumnElement[bool]:
    """The condition "a failed run": failed, alert, interrupted, or running past its lease."""
    return JobRun.status.in_(FAILED) | stale(now)


class Interrupted(NamedTuple):
    id: int
    job: str
    #: The slot it was running (now free to run again).
    period: str


def interrupt_stale(session: Session, now: datetime, job: str | None = None) -> list[Interrupted]:
    """Record every run past its lease (of one job, or all) as interrupted and free its slot (its
    period gets a "~<id>" suffix); returns them. The caller commits. Two workers doing this at once:
    the row lock makes the second find the run no longer "running", and leave it."""
    where = stale(now) if job is None else stale(now) & (JobRun.job == job)
    found = [Interrupted(*row) for row in session.execute(select(JobRun.id, JobRun.job, JobRun.period).where(where))]
    if not found:
        return []
    ids = [run.id for run in found]
    stmt = (
        update(JobRun)
        .where(JobRun.id.in_(ids), stale(now))
        .values(
            status="interrupted",
            period=JobRun.period + "~" + cast(JobRun.id, String),
            finished_at=now,
        )
        .returning(JobRun.id)
    )
    done = set(session.scalars(stmt.execution_options(synchronize_session=False)))
    return sorted((run for run in found if run.id in done), key=lambda run: run.id)
