"""What the system admin's jobs page shows: each job's last run, next run and last failure, and the
failed runs, newest first. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.jobs import catalogue  # noqa: F401  (fills the registry)
from portal.jobs.models import JobRun
from portal.jobs.registry import JOBS, Job

FAILED = ("failed", "alert")


@dataclass(frozen=True)
class JobStatus:
    job: Job
    last_run: JobRun | None
    next_run: datetime
    last_failure: JobRun | None


def _latest(session: Session, statuses: tuple[str, ...] | None = None) -> dict[str, JobRun]:
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    if statuses:
        newest = newest.where(JobRun.status.in_(statuses))
    return {run.job: run for run in session.scalars(select(JobRun).where(JobRun.id.in_(newest)))}


def overview(session: Session, now: datetime) -> list[JobStatus]:
    last, failed = _latest(session), _latest(session, FAILED)
    return [JobStatus(job, last.get(name), job.next_run(now), failed.get(name)) for name, job in JOBS.items()]


@dataclass(frozen=True)
class FailurePage:
    runs: list[JobRun]
    #: The id to continue from (`before`), None on the last page.
    next_before: int | None


def failures(session: Session, *, before: int | None = None, limit: int = 50) -> FailurePage:
    """Failed and alerting runs, newest first, `limit` a page, keyed on the run id."""
    stmt = select(JobRun).where(JobRun.status.in_(FAILED)).order_by(JobRun.id.desc()).limit(limit + 1)
    if before is not None:
        stmt = stmt.where(JobRun.id < before)
    runs = list(session.scalars(stmt))
    more = len(runs) > limit
    return FailurePage(runs[:limit], runs[limit - 1].id if more else None)
