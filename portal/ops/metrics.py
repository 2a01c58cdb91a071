"""Prometheus metrics (prometheus_client). Plain Python: the web side and the jobs process feed them.

- `portal_request_duration_seconds{endpoint,method,status}`: request latency by Flask endpoint
  (`observe_request`, called by portal.ops.web for every request).
- `portal_authorizations_total{result,code}`: terminal purchase authorizations answered, approved or
  declined, by answer code (`authorization_answered`, called where the terminal API answers).
- `portal_outbox_backlog`: mail and SMS waiting to be sent, read from the outbox table at scrape time
  (`outbox_backlog`).
- `portal_job_failures_total{job}`, `portal_job_last_success_timestamp_seconds{job}`,
  `portal_job_running{job}`: the scheduled jobs' failed (failed, alert, interrupted) runs, last
  success and runs going on, read from the job_runs table at scrape time
  (portal.jobs.status.figures): whichever process or host ran the job, every scrape sees it.

Several processes (gunicorn's workers): with PROMETHEUS_MULTIPROC_DIR set in the environment before
they start, each process writes its counters to files there and a scrape of any worker adds them all
up (prometheus_client's multiprocess mode; gunicorn.conf.py sets it up). Without it each process
counts on its own (fine for one process: `flask run`, tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.notify.models import OutboxMessage

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUEST_LATENCY = Histogram(
    "portal_request_duration_seconds",
    "Time to answer a request, by Flask endpoint",
    ("endpoint", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
AUTHORIZATIONS = Counter(
    "portal_authorizations",
    "Terminal purchase authorizations answered, by result (approved, declined) and answer code",
    ("result", "code"),
)


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """One request answered. Endpoints are the app's own names (bounded); no match is "none"."""
    REQUEST_LATENCY.labels(endpoint or "none", method, str(status)).observe(seconds)


def authorization_answered(approved: bool, code: str) -> None:
    """A terminal purchase authorization was answered (count first answers, not replays)."""
    AUTHORIZATIONS.labels("approved" if approved else "declined", code or "none").inc()


def outbox_backlog(session: Session) -> int:
    """Messages in the outbox still to be sent (one SELECT count); given-up ones are not a backlog
    (the jobs page counts them)."""
    waiting = OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at.is_not(None)
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(*waiting))


class _Backlog:
    """A collector with one value read just before the scrape."""

    def __init__(self, value: int):
        self.value = value

    def collect(self):
        yield GaugeMetricFamily("portal_outbox_backlog", "Mail and SMS in the outbox not yet sent", value=self.value)


class JobFigures(Protocol):
    """One job's figures (portal.jobs.status.JobFigures)."""

    job: str
    last_success: object  # a datetime, or None
    failures: int
    running: int


class _Jobs:
    """The scheduled jobs' figures, read from job_runs just before the scrape."""

    def __init__(self, figures: Iterable[JobFigures]):
        self.figures = list(figures)

    def collect(self):
        failures = CounterMetricFamily(
            "portal_job_failures", "Failed, alerting and interrupted runs of a scheduled job", labels=("job",)
        )
        running = GaugeMetricFamily("portal_job_running", "Runs of a scheduled job going on now", labels=("job",))
        success = GaugeMetricFamily(
            "portal_job_last_success_timestamp_seconds",
            "When a scheduled job's last successful run finished (Unix time)",
            labels=("job",),
        )
        for figure in self.figures:
            failures.add_metric((figure.job,), figure.failures)
            running.add_metric((figure.job,), figure.running)
            if figure.last_success is not None:
                success.add_metric((figure.job,), figure.last_success.timestamp())
        yield from (failures, running, success)


def exposition(backlog: int | None, jobs: Iterable[JobFigures] | None = None) -> bytes:
    """The text a scrape gets: every process's counters (multiprocess mode) or this one's, plus the
    backlog and the jobs' figures (each left out when it could not be read)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scraped = CollectorRegistry()
    if backlog is not None:
        scraped.register(_Backlog(backlog))
    if jobs is not None:
        scraped.register(_Jobs(jobs))
    return generate_latest(registry) + generate_latest(scraped)
