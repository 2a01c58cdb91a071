"""portal.ops.metrics: the jobs' figures and the outbox backlog read at scrape time, and counts from
several processes added up in one scrape (prometheus_client's multiprocess mode, as under gunicorn)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from portal.jobs.status import JobFigures
from portal.ops import metrics

ROOT = Path(__file__).resolve().parents[2]


def test_the_jobs_figures_are_exposed_by_job():
    figures = [
        JobFigures("ledger-verify", datetime(2026, 3, 2, 19, 0, 5, tzinfo=UTC), 2, 0),
        JobFigures("points-expire", None, 0, 1),
    ]
    text = metrics.exposition(backlog=None, jobs=figures).decode()
    assert 'portal_job_failures_total{job="ledger-verify"} 2.0' in text
    assert 'portal_job_failures_total{job="points-expire"} 0.0' in text
    assert 'portal_job_running{job="points-expire"} 1.0' in text
    assert 'portal_job_last_success_timestamp_seconds{job="ledger-verify"} 1.772478005e+09' in text
    assert 'portal_job_last_success_timestamp_seconds{job="points-expire"}' not in text  # never succeeded
    assert "portal_job_" not in metrics.exposition(backlog=None).decode()  # job_runs not readable


def test_the_outbox_backlog_is_exposed_only_when_read():
    assert b"portal_outbox_backlog 5.0" in metrics.exposition(backlog=5)
    assert b"portal_outbox_backlog" not in metrics.exposition(backlog=None)


def test_a_scrape_adds_up_every_process_in_multiprocess_mode(tmp_path, monkeypatch):
    """Two processes (two gunicorn workers) count into the same directory; one scrape sees both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = "from portal.ops import metrics; metrics.authorization_answered(False, 'card_blocked')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], cwd=ROOT, env=env, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.exposition(backlog=0).decode()
    assert 'portal_authorizations_total{code="card_blocked",result="declined"} 2.0' in text
