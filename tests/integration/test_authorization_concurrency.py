"""Concurrent purchases on one card (PostgreSQL, many threads): the daily limits and the purse are
never exceeded, and a sequence number raced by several workers posts once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.db import make_sessionmaker
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.purchases.models import Purchase
from portal.stations.models import Terminal
from tests.builders import CARD_NUMBER, purse_balance, set_controls, station_setup
from tests.conftest import T0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKERS = 8


def _run(engine, terminal_id, requests):
    """Each request in its own transaction on its own connection, all started together."""
    Session = make_sessionmaker(engine)
    barrier = threading.Barrier(WORKERS)
    answers, errors = [], []

    def one(request):
        with Session() as session:
            terminal = session.get(Terminal, terminal_id)
            barrier.wait(timeout=30) if len(requests) == WORKERS else None
            try:
                answer = authorize(session, terminal, request, now=T0)
                session.commit()
                answers.append((answer.code, answer.replayed, answer.purchase.id))
            except Exception as exc:  # noqa: BLE001  (collected and asserted below)
                session.rollback()
                errors.append(exc)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, requests))
    return answers, errors


def req(seq, litres_ml=10_000):
    return PurchaseRequest(CARD_NUMBER, "92", litres_ml, 750, litres_ml * 750 // 1000, seq, T0)


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=50_000)
    session.commit()
    return w


def test_purse_is_never_overdrawn(db_engine, session, world):
    # 8 purchases of 75 yuan race for a purse of 500 yuan: exactly 6 fit.
    answers, errors = _run(db_engine, world.terminal.id, [req(seq) for seq in range(1, WORKERS + 1)])
    assert errors == []
    codes = sorted(code for code, _, _ in answers)
    assert codes.count("approved") == 6 and codes.count("insufficient_balance") == 2
    session.expire_all()
    assert purse_balance(session, world.card) == 50_000 - 6 * 7_500
    assert ledger.verify(session).ok


@pytest.mark.parametrize(
    ("controls", "approved"),
    [
        ({"daily_count_limit": 3}, 3),
        ({"daily_amount_limit_fen": 20_000}, 2),
        ({"daily_litres_limit_ml": 40_000}, 4),
    ],
)
def test_daily_limits_hold_under_concurrency(db_engine, session, world, controls, approved):
    set_controls(session, world.card, **controls)
    session.commit()
    for round_ in range(2):  # two waves, so the second sees the first's totals too
        seqs = range(round_ * WORKERS + 1, (round_ + 1) * WORKERS + 1)
        answers, errors = _run(db_engine, world.terminal.id, [req(seq) for seq in seqs])
        assert errors == []
    session.expire_all()
    count = session.scalar(select(func.count(Purchase.id)).where(Purchase.status == "approved"))
    assert count == approved
    assert purse_balance(session, world.card) == 50_000 - approved * 7_500


def test_same_sequence_raced_posts_once(db_engine, session, world):
    answers, errors = _run(db_engine, world.terminal.id, [req(42)] * WORKERS)
    assert errors == []
    assert len({purchase_id for _, _, purchase_id in answers}) == 1
    assert sum(1 for _, replayed, _ in answers if not replayed) == 1
    session.expire_all()
    assert purse_balance(session, world.card) == 50_000 - 7_500
    assert session.scalar(select(func.count(Purchase.id))) == 1
