"""Two copies of an idempotent API request at once (PostgreSQL: two threads, each its own connection):
one executes, the other gets the same answer; many rounds, since a race lost once in a few pairs shows."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.web.api_support import bearer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROUNDS = 15


def _race(app, token: str, key: str, body: dict) -> list:
    start = threading.Barrier(2)
    answers: list = [None, None]

    def run(i: int) -> None:
        client = app.test_client()
        start.wait(timeout=30)
        response = client.post("/api/v1/probe/moves", json=body, headers={**bearer(token), "Idempotency-Key": key})
        answers[i] = (response.status_code, response.get_json(force=True))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("refuse", [False, True])
def test_two_copies_at_once_get_one_answer(probe_app, api_world, refuse):
    from portal.apikeys.models import ApiIdempotency
    from portal.audit.models import AuditEvent
    from portal.extensions import db

    for n in range(ROUNDS):
        first, second = _race(probe_app, api_world.token, f"race-{n}", {"amount_fen": 100 + n, "refuse": refuse})
        assert first == second, (n, first, second)
        assert first[0] == (409 if refuse else 201)
    with probe_app.app_context():
        events = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "probe.move"))
        records = db.session.scalar(select(func.count(ApiIdempotency.id)))
    assert events == (0 if refuse else ROUNDS)
    assert records == ROUNDS
