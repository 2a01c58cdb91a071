"""The jobs runner: a slot runs once however many workers wake for it, failures and alerts are
recorded, and a pending load expires with no page view through the real Huey consumer."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from portal import ledger
from portal.chips import loads
from portal.chips.models import LoadRequest
from portal.jobs.models import JobRun
from portal.jobs.registry import JOBS, Job, JobAlert
from portal.jobs.web import catch_up, consumer_for, queue_for, run_job
from portal.notify import services as outbox
from portal.notify.models import OutboxMessage
from tests.builders import funds_customers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def counting_job(monkeypatch):
    calls = []

    def count(session, now, config):
        calls.append(now)
        return "counted"

    monkeypatch.setitem(JOBS, "count", Job("count", timedelta(minutes=10), count))
    return calls


def reserve(session, card) -> int:
    """What the card's reserve can still pay out (a load's hold is not available)."""
    account = ledger.card_account(session, card.id, "reserve")
    session.refresh(account)
    return ledger.available(account)


def runs(session, job):
    try:
        return session.scalar(select(func.count()).select_from(JobRun).where(JobRun.job == job))
    finally:
        session.rollback()


def test_a_slot_runs_once_from_two_workers_at_once(app, session, clock, counting_job):
    start = threading.Barrier(2)
    results = []

    def worker():
        start.wait()
        results.append(run_job(app, "count"))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(counting_job) == 1 and runs(session, "count") == 1
    assert sorted(r is None for r in results) == [False, True]
    clock.advance(timedelta(minutes=9))  # same slot
    assert run_job(app, "count") is None
    clock.advance(timedelta(minutes=1))  # the next slot
    assert run_job(app, "count").status == "ok" and len(counting_job) == 2
    assert run_job(app, "count", manual=True).detail == "counted" and len(counting_job) == 3


def test_failures_and_alerts_are_recorded_and_roll_back(app, session, monkeypatch):
    def broken(session, now, config):
        outbox.queue(session, "sms", "138", "", "never", now=now)
        raise RuntimeError("boom")

    def worried(session, now, config):
        raise JobAlert("the books do not balance")

    monkeypatch.setitem(JOBS, "broken", Job("broken", timedelta(minutes=1), broken))
    monkeypatch.setitem(JOBS, "worried", Job("worried", timedelta(minutes=1), worried))
    failed = run_job(app, "broken")
    assert failed.status == "failed" and "RuntimeError: boom" in failed.detail and failed.finished_at is not None
    assert run_job(app, "worried").status == "alert"
    scraped = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'portal_job_failures_total{job="broken"} 1.0' in scraped
    assert 'portal_job_failures_total{job="worried"} 1.0' in scraped
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_nightly_ledger_verify_raises_an_alert_on_a_mismatch(app, session, clock):
    funds_customers(session, clock.now())
    session.commit()
    assert run_job(app, "ledger-verify").status == "ok"
    session.execute(
        text(
            "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = (SELECT min(id) FROM ledger_accounts)"
        )
    )
    session.commit()
    run = run_job(app, "ledger-verify", manual=True)
    assert run.status == "alert" and "FAILED" in run.detail


@pytest.fixture
def pending_load(session, clock):
    w = funds_customers(session, clock.now())
    from portal.cards.models import Card
    from portal.funds import services
    from portal.funds.plan import RawLine

    batch = services.prepare_batch(
        session, customer_id=w.a, kind="allocation", lines=[RawLine(1, w.a1_number, "500")], actor_id=w.admin_a,
        now=clock.now(),
    )  # fmt: skip
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    card = session.get(Card, w.a1)
    loads.request_load(session, load_id="L1", card=card, amount=10000, actor_id=w.admin_a, now=clock.now())
    session.commit()
    return card


def test_a_pending_load_expires_with_no_page_view_through_the_real_consumer(
    app, session, clock, pending_load, tmp_path
):
    assert reserve(session, pending_load) == 40000
    session.rollback()
    app.config.update(JOBS_QUEUE="sqlite", JOBS_SQLITE_PATH=str(tmp_path / "queue.db"))
    clock.advance(loads.DEFAULT_LOAD_EXPIRY + timedelta(minutes=1))
    consumer = consumer_for(app, workers=1)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    consumer.start()  # the scheduler and a worker thread, as `flask --app portal jobs worker` runs them
    try:
        result = queue_for(app).run_now("expire-loads")
        assert result.get(blocking=True, timeout=60) == "ok"
    finally:
        consumer.stop(graceful=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert session.get(LoadRequest, "L1").status == "expired"
    assert reserve(session, pending_load) == 50000  # the hold is released
    # The scheduler may also have fired the periodic run if a 10-minute mark passed meanwhile.
    done = session.scalars(select(JobRun).where(JobRun.job == "expire-loads")).all()
    assert {run.status for run in done} == {"ok"}
    assert sorted(run.detail for run in done)[-1] == '{"loads_expired": 1}'


def test_the_queue_triggers_each_job_on_its_schedule(app):
    app.config.update(JOBS_QUEUE="memory")
    huey = queue_for(app).huey

    def due(hour, minute):  # Huey's periodic clock is naive UTC
        tasks = huey.read_periodic(datetime(2026, 3, 2, hour, minute))
        assert "jobs:recover" in {task.name for task in tasks}  # every minute: runs whose worker died
        return {task.name.removeprefix("job:") for task in tasks if task.name.startswith("job:")}

    assert due(2, 10) == {"expire-loads", "deliver-outbox", "deliver-webhooks"}
    assert due(2, 5) == {"prune", "deliver-outbox", "deliver-webhooks"}
    assert due(2, 7) == {"deliver-outbox", "deliver-webhooks"}
    assert due(19, 0) == {"expire-loads", "deliver-outbox", "deliver-webhooks", "ledger-verify"}
    assert due(19, 30) == {"expire-loads", "deliver-outbox", "deliver-webhooks", "points-expire"}


def test_jobs_run_runs_one_job_now_from_the_command_line(runner, session):
    result = runner.invoke(args=["jobs", "run", "prune"])
    assert result.exit_code == 0 and "prune: ok" in result.output
    assert runner.invoke(args=["jobs", "run", "no-such-job"]).exit_code == 2
    assert "ledger-verify" in runner.invoke(args=["jobs", "list"]).output
    assert runs(session, "prune") == 1


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("set TEST_REDIS_URL to run the Redis queue test")
    return url


def test_the_redis_queue_serves_the_consumer_too(app, session, redis_url, counting_job, monkeypatch):
    # The consumer's scheduler also fires periodic slots by the wall clock: a daily slot twelve hours
    # away keeps it from running `count` on its own when the test happens to cross a slot's start.
    far = timedelta(hours=(datetime.now(UTC).hour + 12) % 24)
    monkeypatch.setitem(JOBS, "count", dataclasses.replace(JOBS["count"], every=timedelta(days=1), offset=far))
    # A queue of this run's own: a developer's queue on the same Redis is neither served nor emptied.
    app.config.update(JOBS_QUEUE="redis", REDIS_URL=redis_url, JOBS_QUEUE_NAME=f"test-jobs-{uuid.uuid4().hex}")
    queue = queue_for(app)
    consumer = consumer_for(app, workers=1)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    consumer.start()
    try:
        assert queue.run_now("count").get(blocking=True, timeout=60) == "ok"
    finally:
        consumer.stop(graceful=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        queue.huey.storage.flush_all()  # this queue's own keys only, never the whole database
    assert len(counting_job) == 1 and runs(session, "count") == 1


def test_a_worker_starting_catches_up_the_slots_missed_and_only_those(app, session, counting_job, tmp_path):
    """No worker ran at a job's time (a deploy at 03:00): the worker runs that slot as it starts; a
    slot that ran already is not run again."""
    app.config.update(JOBS_QUEUE="sqlite", JOBS_SQLITE_PATH=str(tmp_path / "queue.db"))
    consumer = consumer_for(app, workers=1)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    consumer.start()
    try:
        first = [result.get(blocking=True, timeout=60) for result in catch_up(app)]
        again = [result.get(blocking=True, timeout=60) for result in catch_up(app)]
    finally:
        consumer.stop(graceful=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    skipped = "skipped: this slot ran elsewhere"  # the scheduler's own trigger at start may come first
    assert set(first) <= {"ok", skipped} and len(first) == len(JOBS)
    assert all(runs(session, name) == 1 for name in JOBS)  # every job's current slot ran, once
    assert set(again) == {skipped}
    assert len(counting_job) == 1


def test_metrics_show_a_failure_of_a_job_run_by_another_process(app, session, clock, database_url):
    """The jobs run in their own process (`flask --app portal jobs ...`), with no metrics directory
    shared with the web: /metrics reads the job runs from the database, so it sees the failure."""
    funds_customers(session, clock.now())
    session.execute(
        text(
            "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = (SELECT min(id) FROM ledger_accounts)"
        )
    )
    session.commit()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(PORTAL_ENV="testing", DATABASE_URL=database_url)
    jobs = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", "jobs", "run", "ledger-verify"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert jobs.returncode == 1 and "ledger-verify: alert" in jobs.stdout, jobs.stderr[-2000:]
    scraped = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'portal_job_failures_total{job="ledger-verify"} 1.0' in scraped
    assert 'portal_job_failures_total{job="expire-loads"} 0.0' in scraped  # every job, failed or not
