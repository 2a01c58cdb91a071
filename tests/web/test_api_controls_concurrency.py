"""Two changes of one card's controls at once (PostgreSQL: two threads, each its own connection):
both land, each real change gets its own version, the first-ever pair is not a 500. Through the API
(PATCH merges fields) and through the service the card page calls."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, select

from tests.web.api_cases import ACTIVE
from tests.web.api_support import bearer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROUNDS = 8


def _both(work) -> list:
    start = threading.Barrier(2)
    answers: list = [None, None]

    def run(i: int) -> None:
        start.wait(timeout=30)
        answers[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _forget_controls(app) -> None:
    """The card back to never having had controls, so every round races the first insert."""
    from portal.audit.models import AuditEvent
    from portal.cards.models import Card, CardControls
    from portal.extensions import db

    with app.app_context():
        card_id = db.session.scalar(select(Card.id).where(Card.number == ACTIVE))
        db.session.execute(delete(CardControls).where(CardControls.card_id == card_id))
        db.session.execute(delete(AuditEvent).where(AuditEvent.action == "cards.set_controls"))
        db.session.commit()


def _state(app) -> tuple[int, list[int]]:
    from portal.audit.models import AuditEvent
    from portal.cards.models import Card, CardControls
    from portal.extensions import db

    with app.app_context():
        card_id = db.session.scalar(select(Card.id).where(Card.number == ACTIVE))
        row = db.session.get(CardControls, card_id)
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cards.set_controls"))
        return row, sorted(e.detail["version"] for e in events if "before" in e.detail)


def test_two_api_patches_at_once_both_land_with_their_own_versions(app, api_world):
    url = f"/api/v1/cards/{ACTIVE}/controls"
    bodies = ({"daily_count_limit": 3}, {"daily_amount_limit_fen": 200_00})
    for n in range(ROUNDS):
        _forget_controls(app)
        answers = _both(
            lambda i: app.test_client().patch(url, json=bodies[i], headers=bearer(api_world.token)).status_code
        )
        assert answers == [200, 200], (n, answers)
        row, versions = _state(app)
        assert (row.version, row.daily_count_limit, row.daily_amount_limit_fen) == (2, 3, 200_00), n
        assert versions == [1, 2], n


def test_two_page_saves_at_once_get_their_own_versions(app, api_world):
    from portal.cards import services
    from portal.cards.controls import Controls
    from portal.cards.models import Card
    from portal.extensions import clock, db

    def save(i: int) -> int:
        with app.app_context():
            card = db.session.scalar(select(Card).where(Card.number == ACTIVE))
            row = services.set_card_controls(
                db.session, card, Controls(daily_count_limit=2 + i), actor_id=None, now=clock().now()
            )
            version = row.version
            db.session.commit()
            return version

    for n in range(ROUNDS):
        _forget_controls(app)
        assert sorted(_both(save)) == [1, 2], n
        _row, versions = _state(app)
        assert versions == [1, 2], n
