"""The same redemption form submitted by several workers at once (PostgreSQL): redeemed once, and
every worker answers with that one redemption; different keys never overdraw the points."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.cards.models import Card
from portal.db import make_sessionmaker
from portal.points.models import PointsRedemption
from portal.rewards import services
from tests.builders import points_balance, station_setup
from tests.conftest import T0

pytestmark = pytest.mark.postgres
WORKERS = 6


@pytest.fixture
def card_id(session):
    world = station_setup(session, now=T0)
    issued = ledger.system_account(session, "points_issued", ledger.POINTS)
    account = ledger.card_account(session, world.card.id, "points")
    ledger.transfer(session, ledger.TransferRequest("earn", issued.id, account.id, 3_500, "points_earn"), now=T0)
    session.commit()
    return world.card.id


def _race(engine, card_id: int, keys: list[str]):
    Session = make_sessionmaker(engine)
    barrier = threading.Barrier(len(keys))
    outcomes = []

    def one(key):
        with Session() as session:
            card = session.get(Card, card_id)
            barrier.wait(timeout=30)
            try:
                done = services.redeem(session, card, 1_000, key=key, actor_id=None, now=T0)
                session.commit()
                outcomes.append(("ok", done.redemption.id, done.replayed))
            except services.RewardError as exc:
                session.rollback()
                outcomes.append((exc.code, None, None))

    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(one, keys))
    return outcomes


def test_one_key_submitted_at_once_redeems_once(db_engine, session, card_id):
    outcomes = _race(db_engine, card_id, [uuid.uuid4().hex] * WORKERS)
    assert {code for code, _, _ in outcomes} == {"ok"}
    assert len({redemption_id for _, redemption_id, _ in outcomes}) == 1
    assert sorted(replayed for _, _, replayed in outcomes) == [False] + [True] * (WORKERS - 1)
    card = session.get(Card, card_id)
    assert points_balance(session, card) == 2_500
    assert session.scalar(select(func.count(PointsRedemption.id))) == 1


def test_different_keys_never_overdraw_the_points(db_engine, session, card_id):
    outcomes = _race(db_engine, card_id, [uuid.uuid4().hex for _ in range(WORKERS)])
    assert sorted(code for code, _, _ in outcomes) == ["insufficient_points"] * (WORKERS - 3) + ["ok"] * 3
    assert points_balance(session, session.get(Card, card_id)) == 500
    assert ledger.verify(session).ok
