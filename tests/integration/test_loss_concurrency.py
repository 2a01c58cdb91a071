"""Races on PostgreSQL: two people reporting the same card, two replace submissions at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.cards import loss
from portal.cards.errors import AlreadyReported, ReportNotOpen
from portal.cards.models import Card, LossReport
from portal.db import make_sessionmaker
from tests.builders import fund_card, two_fleets
from tests.conftest import T0

pytestmark = pytest.mark.postgres


def _race(db_engine, action, n=4):
    """Run `action(session)` in n threads at once; each commits; returns results or exceptions."""
    maker = make_sessionmaker(db_engine)
    start = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        session = maker()
        try:
            start.wait()
            results[i] = action(session, i)
            session.commit()
        except Exception as error:  # noqa: BLE001  (collected and asserted below)
            session.rollback()
            results[i] = error
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_reports_of_one_card_make_one_report(session, db_engine):
    fleet, _ = two_fleets(session, T0)
    session.commit()
    card_id = fleet.cards[0].id

    def report(s, i):
        return loss.report_loss(s, s.get(Card, card_id), reason="lost", actor_id=None, now=T0).id

    results = _race(db_engine, report)
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, int | AlreadyReported) for r in results), results
    assert session.scalar(select(func.count()).select_from(LossReport)) == 1


def test_concurrent_replacements_move_money_once(session, db_engine):
    fleet, _ = two_fleets(session, T0)
    card = fleet.cards[0]
    fund_card(session, card, reserve=1000_00, purse=10_00, now=T0)
    report = loss.report_loss(session, card, reason="lost", actor_id=None, now=T0)
    session.commit()
    report_id = report.id

    def replace(s, i):
        # Half the submissions are the same form twice, half are different forms.
        new = loss.replace_card(
            s,
            s.get(LossReport, report_id),
            actor_id=None,
            now=T0 + timedelta(days=7),
            password_confirmed=True,
            idempotency_key=f"key-{i % 2}",
        )
        return new.id

    results = _race(db_engine, replace)
    made = {r for r in results if isinstance(r, int)}
    assert len(made) == 1, results
    assert all(isinstance(r, int | ReportNotOpen) for r in results), results
    new_id = made.pop()
    session.expire_all()
    assert ledger.balance(ledger.card_account(session, new_id, "reserve")) == 1000_00
    assert session.scalar(select(func.count()).select_from(Card).where(Card.replaces_card_id == card.id)) == 1
    assert ledger.verify(session).ok
