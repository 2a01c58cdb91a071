from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

RUN_STATUSES = ("running", "ok", "failed", "alert")


class JobRun(Base):
    """One run of a job. A scheduled run's `period` names its slot (e.g. "2026-03-02T02:10"): the row is
    inserted before the job starts and (job, period) is unique, so of several workers or hosts that
    wake for the same slot only the first runs it. A run started by hand has a period of its own."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "period", name="uq_job_runs_job_period"),
        CheckConstraint("status IN ('running', 'ok', 'failed', 'alert')", name="status"),
        Index("ix_job_runs_job_started", "job", "started_at"),
        Index("ix_job_runs_status_started", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    #: Wall time of the run in milliseconds (set when it ends).
    duration_ms: Mapped[int | None]
    #: The job's summary ("3 load request(s) expired"), or the error / alert text.
    detail: Mapped[str] = mapped_column(Text, default="")
    #: Which host and process ran it.
    worker: Mapped[str] = mapped_column(String(100), default="")
