"""The jobs queue's name: two deployments (or a test run and a developer) sharing one Redis keep
their triggers apart, through the deployment's key prefix or JOBS_QUEUE_NAME."""

from __future__ import annotations

import os
import uuid

import pytest

from portal.jobs.queue import make_huey, queue_name

REDIS = {"JOBS_QUEUE": "redis", "REDIS_URL": "redis://127.0.0.1:6379/0"}  # not connected: keys only


def test_the_queue_is_named_after_the_deployments_key_prefix():
    assert queue_name({}) == "portal-jobs"
    assert queue_name({"RATELIMIT_KEY_PREFIX": "staging:"}) == "staging:portal-jobs"
    assert queue_name({"RATELIMIT_KEY_PREFIX": "staging:", "JOBS_QUEUE_NAME": "jobs-b"}) == "jobs-b"


def test_two_deployments_on_one_redis_use_different_keys(tmp_path):
    first = make_huey({**REDIS, "RATELIMIT_KEY_PREFIX": "prod:"}, str(tmp_path)).storage
    second = make_huey({**REDIS, "RATELIMIT_KEY_PREFIX": "staging:"}, str(tmp_path)).storage
    named = make_huey({**REDIS, "JOBS_QUEUE_NAME": "other"}, str(tmp_path)).storage
    keys = [(s.queue_key, s.schedule_key, s.result_key) for s in (first, second, named)]
    assert len({key for triple in keys for key in triple}) == 9
    assert "prod" in first.queue_key and "staging" in second.queue_key


def test_a_trigger_queued_by_one_deployment_is_not_seen_by_another():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("set TEST_REDIS_URL to check a live Redis")
    run = uuid.uuid4().hex[:8]
    ours, theirs = (make_huey({"JOBS_QUEUE": "redis", "REDIS_URL": url, "RATELIMIT_KEY_PREFIX": f"t{run}{side}:"}, "")
                    for side in "ab")  # fmt: skip
    try:
        ours.enqueue(ours.task(name="noop")(lambda: None).s())
        assert (ours.pending_count(), theirs.pending_count()) == (1, 0)
    finally:
        for huey in (ours, theirs):
            huey.storage.flush_all()  # these queues' own keys only
