"""The system admin's jobs page: last and next run of every job, alerts on top, failures paged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.jobs.registry import JOBS, Job, JobAlert
from portal.jobs.web import run_job
from tests.web.conftest import login


@pytest.fixture
def failing_job(monkeypatch):
    def broken(session, now, config):
        raise RuntimeError("gateway unreachable")

    monkeypatch.setitem(JOBS, "broken", Job("broken", timedelta(minutes=1), broken))


def test_sysadmin_sees_runs_next_runs_alerts_and_paged_failures(
    app, client, clock, make_user, monkeypatch, failing_job
):
    make_user("root", role="sysadmin")
    app.config["PAGE_SIZE"] = 2
    for _ in range(3):
        run_job(app, "broken")
        clock.advance(timedelta(minutes=1))
    assert run_job(app, "expire-loads").status == "ok"

    def worried(session, now, config):
        raise JobAlert("ledger M: posted debits 5 != posted credits 6")

    monkeypatch.setitem(JOBS, "ledger-verify", Job("ledger-verify", timedelta(days=1), worried))
    run_job(app, "ledger-verify")
    login(client, "root", "Correct-Horse-9")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert (
        "<h1>定时任务</h1>" in page
        and 'data-job="expire-loads"' in page
        and "过期的圈存申请 0" in page
        and "load request" not in page
    )
    assert 'data-job="deliver-outbox"' in page  # not run yet: its next run is shown
    assert 'data-testid="job-alert"' in page and "posted debits 5 != posted credits 6" in page
    assert page.count("data-run=") == 2 and "gateway unreachable" in page
    next_link = page.split('data-testid="next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
    older = client.get(next_link.replace("&amp;", "&")).get_data(as_text=True)
    assert older.count("data-run=") == 2 and 'data-testid="next-page"' not in older  # the two oldest failures
    assert client.get("/admin/jobs?before=nonsense").status_code == 200


def test_a_run_past_its_lease_shows_as_interrupted_without_the_page_writing(app, client, clock, make_user, session):
    """A worker killed mid-run leaves its run "running"; once the lease is out the page says 已中断 in
    the job's status and in the failures, and the database is unchanged (a GET never writes)."""
    from sqlalchemy import select

    from portal.jobs.models import JobRun

    make_user("root", role="sysadmin")
    job = JOBS["points-expire"]
    session.add(JobRun(job=job.name, period=job.period(clock.now()), status="running", started_at=clock.now(),
                       lease_until=clock.now() + job.timeout, worker="host-a:4242:1"))  # fmt: skip
    session.commit()
    login(client, "root", "Correct-Horse-9")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert 'data-status="running"' in page and 'data-testid="no-failures"' in page
    clock.advance(job.timeout)
    login(client, "root", "Correct-Horse-9")  # the sign-in's idle time ran out meanwhile
    page = client.get("/admin/jobs").get_data(as_text=True)
    row = page.split('data-job="points-expire"')[1].split("</tr>")[0]
    assert 'data-status="interrupted"' in row and "已中断" in row and "任务将重新运行" in row
    failures = page.split('data-testid="failures"')[1]
    assert failures.count("data-run=") == 1 and "已中断" in failures and "host-a:4242:1" in failures
    assert session.scalars(select(JobRun.status)).all() == ["running"]


def test_every_jobs_counts_are_shown_in_the_readers_language(app, client, make_user):
    """Each job's last run shows its counts with labels from the catalog: no English summary, no key."""
    from portal.admin.jobs_views import COUNT_LABELS, run_counts
    from portal.jobs import catalogue  # noqa: F401  (registers the jobs)

    make_user("root", role="sysadmin")
    names = ["expire-loads", "deliver-outbox", "prune", "points-expire", "ledger-verify"]
    runs = [run_job(app, name, manual=True) for name in names]
    assert [run.status for run in runs] == ["ok"] * len(names)
    for run in runs:
        assert run_counts(run.detail) is not None, f"{run.job}: {run.detail!r} has a key without a label"
    assert set(COUNT_LABELS) >= {key for run in runs for key in __import__("json").loads(run.detail)}
    login(client, "root", "Correct-Horse-9")
    page = client.get("/admin/jobs").get_data(as_text=True)
    for label in ("过期的圈存申请", "已发送消息", "删除的会话", "账户数", "已核对的账簿"):
        assert label in page
    for english in ("load request", "message(s)", "sessions", "ledger L", "bodies cleared", "loads_expired"):
        assert english not in page
