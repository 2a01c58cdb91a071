"""portal.ops.metrics: the job-failure seam, and counts from several processes added up in one scrape
(prometheus_client's multiprocess mode, as under gunicorn with a separate jobs process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import REGISTRY

from portal.ops import metrics

ROOT = Path(__file__).resolve().parents[2]


def test_job_failed_counts_by_job_name():
    before = REGISTRY.get_sample_value("portal_job_failures_total", {"job": "expire-loads"}) or 0
    metrics.job_failed("expire-loads")
    metrics.job_failed("expire-loads")
    assert REGISTRY.get_sample_value("portal_job_failures_total", {"job": "expire-loads"}) == before + 2
    assert b'portal_job_failures_total{job="expire-loads"}' in metrics.exposition(backlog=None)


def test_the_outbox_backlog_is_exposed_only_when_read():
    assert b"portal_outbox_backlog 5.0" in metrics.exposition(backlog=5)
    assert b"portal_outbox_backlog" not in metrics.exposition(backlog=None)


def test_a_scrape_adds_up_every_process_in_multiprocess_mode(tmp_path, monkeypatch):
    """Two processes (a web worker, the jobs process) count into the same directory; one scrape
    sees both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = (
        "from portal.ops import metrics; metrics.job_failed('ledger-verify');"
        " metrics.authorization_answered(False, 'card_blocked')"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], cwd=ROOT, env=env, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.exposition(backlog=0).decode()
    assert 'portal_job_failures_total{job="ledger-verify"} 2.0' in text
    assert 'portal_authorizations_total{code="card_blocked",result="declined"} 2.0' in text
