"""The one registry of scheduled jobs: a name, a schedule and a function. Adding a job is one
decorated function in catalogue.py (or any module catalogue imports):

    @job("expire-loads", every=timedelta(minutes=10))
    def expire_loads(session, now, config): ...

The function takes a SQLAlchemy session, the time and the app's settings (a plain mapping, plus
"OUTBOX_BACKENDS"), does its work, may commit in batches (the runner commits at the end too) and
returns its counts (`Counts`: {"loads_expired": 3}; each key needs a label on the jobs page,
portal.admin.jobs_views.COUNT_LABELS), which the run keeps as JSON so the page shows them in the
reader's language. It must be idempotent: a slot is
run once, but a run started by hand, or re-run after a crash, repeats work already done. `timeout`
(default 30 minutes) is the longest a run may take: a run still going after it is taken for one whose
worker died (portal.jobs.leases), and its slot may run again. It raises
`JobAlert` when it finds something a person must look at (the run is recorded as an alert).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

#: What a job found and did: counts (or lists of ids) by a key that names them.
Counts = dict[str, int | list[int]]
JobFunction = Callable[[Session, datetime, Mapping[str, Any]], Counts]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class JobAlert(Exception):
    """A job found a problem for the system admin (e.g. the books do not balance)."""


@dataclass(frozen=True)
class Job:
    name: str
    #: How often: minutes dividing an hour, hours dividing a day, or one day.
    every: timedelta
    function: JobFunction
    #: Where in each `every` the slot starts (a daily job at 18:00 UTC, 02:00 in Shanghai: 18 hours).
    offset: timedelta = timedelta(0)
    description: str = ""
    #: The longest a run may take: a run still "running" after this is taken for dead (its worker
    #: was killed, its host lost), recorded as interrupted, and its slot may run again.
    timeout: timedelta = timedelta(minutes=30)

    def slot(self, now: datetime) -> datetime:
        """The start of the slot `now` falls in."""
        steps = (now - _EPOCH - self.offset) // self.every
        return _EPOCH + self.offset + steps * self.every

    def period(self, now: datetime) -> str:
        """The slot's stable id: the same on every host for the same slot."""
        return self.slot(now).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")

    def next_run(self, now: datetime) -> datetime:
        return self.slot(now) + self.every

    def cron(self) -> dict[str, str]:
        """The schedule as crontab fields (UTC), for the queue's periodic trigger."""
        minutes = int(self.every.total_seconds() // 60)
        offset = int(self.offset.total_seconds() // 60)
        if minutes >= 24 * 60:
            return {"minute": str(offset % 60), "hour": str(offset // 60 % 24)}
        if minutes >= 60:
            hours = sorted({(offset // 60 + n * minutes // 60) % 24 for n in range(24)})
            return {"minute": str(offset % 60), "hour": ",".join(map(str, hours))}
        return {"minute": ",".join(str(m) for m in range(offset % minutes, 60, minutes))}


JOBS: dict[str, Job] = {}


def job(
    name: str,
    *,
    every: timedelta,
    offset: timedelta = timedelta(0),
    description: str = "",
    timeout: timedelta = timedelta(minutes=30),
):
    """Register the decorated function as a scheduled job."""
    if every < timedelta(minutes=1) or every.total_seconds() % 60:
        raise ValueError("a job runs at most once a minute, on whole minutes")
    if timeout <= timedelta(0):
        raise ValueError("a job's timeout must be positive")

    def register(function: JobFunction) -> JobFunction:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        doc = description or (function.__doc__ or "").strip()
        JOBS[name] = Job(name, every, function, offset, doc, timeout)
        return function

    return register
