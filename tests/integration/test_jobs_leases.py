"""A run whose worker died (SIGKILL, the host lost) never writes its result: once its lease runs out
it is interrupted, a failure on the page and on /metrics, and its slot runs again, at the next
worker start or at the next minute's recovery. Time is the injected clock; nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.jobs.models import JobRun
from portal.jobs.registry import JOBS, Job
from portal.jobs.web import catch_up, queue_for, recover, run_job

LEASE = timedelta(hours=1)


class Killed(BaseException):
    """The worker dies mid-run: nothing after this point of the runner happens (as with SIGKILL)."""


@pytest.fixture
def nightly(monkeypatch, app):
    """A daily job (its slot lasts a day) with a one-hour lease; the first run is killed mid-run."""
    calls = []

    def work(session, now, config):
        calls.append(now)
        if len(calls) == 1:
            raise Killed
        return "done"

    monkeypatch.setitem(JOBS, "nightly", Job("nightly", timedelta(days=1), work, timeout=LEASE))
    app.config.update(JOBS_QUEUE="memory")
    queue_for(app).huey.immediate = True  # queued work runs at once, in this thread
    with pytest.raises(Killed):
        run_job(app, "nightly")
    return calls


def runs(session) -> list[tuple[str, str]]:
    try:
        return [(r.status, r.period) for r in session.scalars(select(JobRun).order_by(JobRun.id))]
    finally:
        session.rollback()


def scrape(app) -> str:
    return app.test_client().get("/metrics").get_data(as_text=True)


def test_a_killed_run_is_interrupted_after_its_lease_and_its_slot_runs_again(app, session, clock, nightly):
    slot = JOBS["nightly"].period(clock.now())
    assert runs(session) == [("running", slot)]
    clock.advance(LEASE - timedelta(minutes=1))  # within the lease: it may still be running elsewhere
    assert run_job(app, "nightly") is None and recover(app) == []
    assert 'portal_job_running{job="nightly"} 1.0' in scrape(app)
    assert 'portal_job_failures_total{job="nightly"} 0.0' in scrape(app)

    clock.advance(timedelta(minutes=1))  # the lease has run out: a failure at once, before any worker says so
    scraped = scrape(app)
    assert (
        'portal_job_failures_total{job="nightly"} 1.0' in scraped and 'portal_job_running{job="nightly"} 0.0' in scraped
    )
    assert 'portal_job_last_success_timestamp_seconds{job="nightly"}' not in scraped
    assert runs(session) == [("running", slot)]  # reading wrote nothing

    assert recover(app) == ["nightly"]  # the queue's every-minute task: interrupted, and the slot run again
    (killed_id,) = session.scalars(select(JobRun.id).where(JobRun.status == "interrupted"))
    assert runs(session) == [("interrupted", f"{slot}~{killed_id}"), ("ok", slot)] and len(nightly) == 2
    scraped = scrape(app)
    assert 'portal_job_failures_total{job="nightly"} 1.0' in scraped  # counted once, and stays
    assert 'portal_job_last_success_timestamp_seconds{job="nightly"}' in scraped
    assert recover(app) == [] and run_job(app, "nightly") is None  # the slot ran: once


def test_a_worker_starting_after_the_lease_runs_the_interrupted_slot(app, session, clock, nightly):
    clock.advance(LEASE + timedelta(minutes=5))
    results = catch_up(app)
    assert len(results) == len(JOBS) and len(nightly) == 2
    assert [status for status, _ in runs(session)].count("interrupted") == 1
    nightly_runs = session.scalars(select(JobRun).where(JobRun.job == "nightly").order_by(JobRun.id)).all()
    assert [r.status for r in nightly_runs] == ["interrupted", "ok"] and nightly_runs[0].finished_at == clock.now()


def test_an_older_slots_interrupted_run_is_recorded_but_its_work_is_the_next_slots(app, session, clock, nightly):
    """Recovery the next day: the killed run is recorded; the new day's slot does the work (once)."""
    clock.advance(timedelta(days=1))
    assert recover(app) == []
    assert [status for status, _ in runs(session)] == ["interrupted"] and len(nightly) == 1
    assert run_job(app, "nightly").status == "ok"


def test_a_run_finishing_after_its_lease_stays_interrupted(app, session, clock, monkeypatch):
    """A run that outlived its lease (not dead, only slow) while another worker took its slot: its late
    result is noted, but it stays a failure (the counter never goes down) and the slot ran twice."""

    def slow(session, now, config):
        if not slow.inner:
            slow.inner = True
            clock.advance(timedelta(minutes=31))
            assert run_job(app, "slow").status == "ok"  # another worker, after the lease
        return "done"

    slow.inner = False
    monkeypatch.setitem(JOBS, "slow", Job("slow", timedelta(days=1), slow))  # the default 30-minute lease
    late = run_job(app, "slow")
    assert late.status == "interrupted" and "finished late (ok): done" in late.detail
    assert [status for status, _ in runs(session)] == ["interrupted", "ok"]
