"""What the system admin's jobs page and /metrics show: each job's last run, next run and last
failure, the failed runs, newest first, and per-job figures. Read-only. A run still "running" past
its lease counts as interrupted, a failure, before any worker records it so (portal.jobs.leases)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.jobs import catalogue  # noqa: F401  (fills the registry)
from portal.jobs.leases import failed, stale
from portal.jobs.models import JobRun
from portal.jobs.registry import JOBS, Job


@dataclass(frozen=True)
class JobStatus:
    job: Job
    last_run: JobRun | None
    next_run: datetime
    last_failure: JobRun | None
    #: The last run's status as shown ("interrupted" for one past its lease), None if never run.
    shown: str | None = None


def _latest(session: Session, where=None) -> dict[str, JobRun]:
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    if where is not None:
        newest = newest.where(where)
    return {run.job: run for run in session.scalars(select(JobRun).where(JobRun.id.in_(newest)))}


def overview(session: Session, now: datetime) -> list[JobStatus]:
    last, failures_ = _latest(session), _latest(session, failed(now))
    return [
        JobStatus(job, run, job.next_run(now), failures_.get(name), run.shown_status(now) if run else None)
        for name, job in JOBS.items()
        for run in [last.get(name)]
    ]


@dataclass(frozen=True)
class FailurePage:
    runs: list[JobRun]
    #: The id to continue from (`before`), None on the last page.
    next_before: int | None
    #: The time the page was read at (a run's shown status depends on it).
    now: datetime | None = None


def failures(session: Session, *, now: datetime, before: int | None = None, limit: int = 50) -> FailurePage:
    """Failed, alerting and interrupted runs, newest first, `limit` a page, keyed on the run id."""
    stmt = select(JobRun).where(failed(now)).order_by(JobRun.id.desc()).limit(limit + 1)
    if before is not None:
        stmt = stmt.where(JobRun.id < before)
    runs = list(session.scalars(stmt))
    more = len(runs) > limit
    return FailurePage(runs[:limit], runs[limit - 1].id if more else None, now)


@dataclass(frozen=True)
class JobFigures:
    """One job's figures for monitoring."""

    job: str
    #: When its last successful run finished (None: none kept).
    last_success: datetime | None
    #: Its failed, alerting and interrupted runs so far (failures are never pruned: only grows).
    failures: int
    #: Its runs going on now (within their lease).
    running: int


def figures(session: Session, now: datetime) -> list[JobFigures]:
    """Every registered job's figures from job_runs, in one query, whichever process ran them."""
    count = lambda condition: func.coalesce(func.sum(case((condition, 1), else_=0)), 0)  # noqa: E731
    rows = session.execute(
        select(
            JobRun.job,
            func.max(case((JobRun.status == "ok", JobRun.finished_at))),
            count(failed(now)),
            count((JobRun.status == "running") & ~stale(now)),
        ).group_by(JobRun.job)
    ).all()
    found = {
        job: JobFigures(job, last_success, int(failures_), int(running))
        for job, last_success, failures_, running in rows
    }
    names = list(JOBS) + sorted(set(found) - set(JOBS))
    return [found.get(name) or JobFigures(name, None, 0, 0) for name in names]
