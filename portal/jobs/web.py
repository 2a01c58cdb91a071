"""The jobs' Flask glue: run one job for an app (claiming its slot first), and the Huey queue and
consumer bound to the app (`flask --app portal jobs worker`, `make run`)."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass

from flask import Flask
from huey.api import Huey
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.clock import SystemClock
from portal.jobs import catalogue  # noqa: F401  (registers the jobs)
from portal.jobs.leases import Interrupted, interrupt_stale
from portal.jobs.models import JobRun
from portal.jobs.queue import make_huey, register_jobs
from portal.jobs.registry import JOBS, Job, JobAlert
from portal.notify.web import backends

log = logging.getLogger("portal.jobs")


def _clock(app: Flask):
    return app.extensions.setdefault("portal.clock", SystemClock())


def _sessions(app: Flask):
    return app.extensions["portal.db.jobs"][1]


def _interrupt_stale(app: Flask, now, job: str | None = None) -> list[Interrupted]:
    """Record the runs past their lease (of `job`, or all) as interrupted, freeing their slots."""
    with _sessions(app)() as session:
        runs = interrupt_stale(session, now, job)
        session.commit()
    for run in runs:
        log.error("job %s run %d (%s) interrupted: no result before its lease ran out", run.job, run.id, run.period)
    return runs


def _claim(app: Flask, job: Job, period: str, now) -> int | None:
    """Insert the run's row, with its lease; None when another worker has this slot already (a run
    of the slot whose lease ran out is interrupted first: its slot runs again)."""
    _interrupt_stale(app, now, job.name)
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]
    with _sessions(app)() as session:
        run = JobRun(
            job=job.name, period=period, status="running", started_at=now, lease_until=now + job.timeout, worker=worker
        )
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return run.id


def counts_text(counts) -> str:
    """A run's detail for its counts: JSON (the jobs page labels each in the reader's language)."""
    return counts if isinstance(counts, str) else json.dumps(dict(counts), sort_keys=False)


def _work(app: Flask, name: str, now) -> tuple[str, str]:
    config = dict(app.config, OUTBOX_BACKENDS=backends(app))
    with _sessions(app)() as session:
        try:
            counts = JOBS[name].function(session, now, config)
            session.commit()
            return "ok", counts_text(counts)
        except JobAlert as alert:
            session.rollback()
            log.error("job %s raised an alert: %s", name, alert)
            return "alert", str(alert)
        except Exception:  # noqa: BLE001  (a job's failure is recorded for the system admin)
            session.rollback()
            log.exception("job %s failed", name)
            return "failed", traceback.format_exc(limit=-4)


def run_job(app: Flask, name: str, *, manual: bool = False) -> JobRun | None:
    """Run a registered job once for its current slot (or, `manual`, now whatever the slot). Returns
    the finished run, or None when the slot was already claimed by another worker or host."""
    if name not in JOBS:
        raise KeyError(name)
    now = _clock(app).now()
    period = f"manual:{now:%Y-%m-%dT%H:%M:%S}:{uuid.uuid4().hex[:8]}" if manual else JOBS[name].period(now)
    run_id = _claim(app, JOBS[name], period, now)
    if run_id is None:
        return None
    started = time.monotonic()
    status, detail = _work(app, name, now)
    values = {
        "status": status,
        "detail": detail[:20000],
        "finished_at": _clock(app).now(),
        "duration_ms": int((time.monotonic() - started) * 1000),
    }
    with _sessions(app)() as session:
        # Only a run still "running": one interrupted meanwhile (it outlived its lease and another
        # worker took the slot) stays interrupted, its late result noted, so failures only ever grow.
        mine = JobRun.id == run_id, JobRun.status == "running"
        if not session.execute(update(JobRun).where(*mine).values(**values)).rowcount:
            log.warning("job %s finished (%s) after its lease ran out; its run stays interrupted", name, status)
            late = f"; finished late ({status}): {detail}"[:10000]
            session.execute(update(JobRun).where(JobRun.id == run_id).values(detail=JobRun.detail + late))
        session.commit()
        return session.get(JobRun, run_id)


@dataclass
class Queue:
    huey: Huey
    #: Enqueue a named job to run now: `queue.run_now("expire-loads")` (a Huey result).
    run_now: object


def queue_for(app: Flask) -> Queue:
    """The app's Huey queue with every job registered (built once per app)."""
    if "portal.jobs.queue" not in app.extensions:
        huey = make_huey(app.config, app.instance_path)
        run_now = register_jobs(huey, lambda name, manual: _run_logged(app, name, manual), lambda: recover(app))
        app.extensions["portal.jobs.queue"] = Queue(huey, run_now)
    return app.extensions["portal.jobs.queue"]


def _run_logged(app: Flask, name: str, manual: bool) -> str:
    run = run_job(app, name, manual=manual)
    if run is None:
        return "skipped: this slot ran elsewhere"
    log.info("job %s %s in %s ms: %s", name, run.status, run.duration_ms, run.detail.splitlines()[:1])
    return run.status


def catch_up(app: Flask) -> list:
    """Record runs whose worker died (past their lease) as interrupted, then queue every job's
    current slot. A slot that ran already is skipped (its row is claimed), so this only runs what was
    missed while no worker ran (a deploy at 03:00 must not cost a night's ledger check) or was
    interrupted. The worker calls it as it starts."""
    _interrupt_stale(app, _clock(app).now())
    queue = queue_for(app)
    return [queue.run_now(name, False) for name in JOBS]


def recover(app: Flask) -> list[str]:
    """Record runs past their lease as interrupted and queue again each one whose slot is still the
    job's current one (a killed nightly run runs again that night); an older slot's work is its
    next slot's (the jobs catch up on everything due). The queue calls this every minute."""
    now = _clock(app).now()
    again = sorted(
        {run.job for run in _interrupt_stale(app, now) if run.job in JOBS and run.period == JOBS[run.job].period(now)}
    )
    queue = queue_for(app)
    for name in again:
        queue.run_now(name, False)
    return again


def consumer_for(app: Flask, workers: int = 2):
    """A Huey consumer (scheduler + worker threads) for the app's queue."""
    # SIGTERM (systemd's stop) lets the running job finish; Huey's default would kill it mid-batch.
    return queue_for(app).huey.create_consumer(
        workers=workers, periodic=True, check_worker_health=True, graceful_signal="TERM"
    )
