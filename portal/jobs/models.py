from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

#: "interrupted": the run was still "running" when its lease ran out (its worker killed, its host
#: lost); set by portal.jobs.leases, which also frees the slot to run again.
RUN_STATUSES = ("running", "ok", "failed", "alert", "interrupted")


def _no_lease(context) -> datetime:
    return context.get_current_parameters()["started_at"]


class JobRun(Base):
    """One run of a job. A scheduled run's `period` names its slot (e.g. "2026-03-02T02:10"): the row is
    inserted before the job starts and (job, period) is unique, so of several workers or hosts that
    wake for the same slot only the first runs it. A run started by hand has a period of its own.
    A run still "running" after `lease_until` is interrupted (portal.jobs.leases); its period then
    gets a "~<id>" suffix, so that the slot can be claimed again."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "period", name="uq_job_runs_job_period"),
        CheckConstraint("status IN ('running', 'ok', 'failed', 'alert', 'interrupted')", name="status"),
        Index("ix_job_runs_job_started", "job", "started_at"),
        Index("ix_job_runs_status_started", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Until when a "running" run is believed alive: its start plus the job's longest run (`timeout`;
    #: the runner sets it). Left out, the run's start: a lease already out.
    lease_until: Mapped[datetime] = mapped_column(default=_no_lease)
    finished_at: Mapped[datetime | None]
    #: Wall time of the run in milliseconds (set when it ends).
    duration_ms: Mapped[int | None]
    #: The job's summary ("3 load request(s) expired"), or the error / alert text.
    detail: Mapped[str] = mapped_column(Text, default="")
    #: Which host and process ran it.
    worker: Mapped[str] = mapped_column(String(100), default="")

    def shown_status(self, now: datetime) -> str:
        """The status a person sees: "interrupted" for a run still running past its lease (its worker
        is gone), even before a worker records it so (a page never writes)."""
        if self.status == "running" and self.lease_until <= now:
            return "interrupted"
        return self.status
