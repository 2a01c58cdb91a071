"""The daily purchase totals (purchases.rollup): kept per purchase, rebuilt from the purchases,
and answering statistics and page totals exactly as the purchases themselves do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.purchases import rollup
from portal.purchases.models import PurchaseDay
from portal.queries import purchases
from portal.queries.filters import parse_filter
from portal.queries.scope import Scope, driver_scope
from portal.statistics import rollup as day_statistics
from portal.statistics import transactions
from tests.builders import buy, fleet_history
from tests.conftest import T0

TODAY = (T0 + timedelta(hours=8)).date()


@pytest.fixture
def world(session):
    world = fleet_history(session, T0)
    c2 = world.cards["c2"]
    # A refund alone on its day, another region and product, so no group is trivially one row.
    buy(session, world, c2, T0 - timedelta(days=30), amount=30_00, litres_ml=4_000, kind="refund", points=30)
    buy(session, world, c2, T0 - timedelta(days=30), amount=90_00, litres_ml=11_000, station="S2", product="0")
    for purchase in world.purchases:
        rollup.record_purchase(session, purchase)
    session.commit()
    return world


def snapshot(session):
    return sorted(
        tuple(getattr(row, c) for c in (*rollup.KEY, *rollup.SUMS)) for row in session.scalars(select(PurchaseDay))
    )


def test_rebuild_gives_what_recording_each_purchase_gave(session, world):
    recorded = snapshot(session)
    assert recorded
    assert rollup.rebuild(session) == len(recorded)
    assert snapshot(session) == recorded
    # One customer only: the other's rows stay.
    assert rollup.rebuild(session, world.acme.id) < len(recorded)
    assert snapshot(session) == recorded


def test_days_are_beijing_days(session, world):
    days = {row.day for row in session.scalars(select(PurchaseDay).where(PurchaseDay.customer_id == world.acme.id))}
    # 16:30 UTC on 1 March is 00:30 on 2 March in Beijing.
    assert TODAY in days and TODAY - timedelta(days=1) in days


FILTERS = [
    {},
    {"preset": "last_month"},
    {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02"},
    {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02", "type": "refund"},
    {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02", "product": "92"},
    {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02", "region": "31"},
]


@pytest.mark.parametrize("group", day_statistics.GROUPS)
@pytest.mark.parametrize("args", FILTERS)
def test_statistics_from_the_totals_equal_statistics_from_the_purchases(session, world, group, args):
    flt = parse_filter({**args, "group": group}, transactions.spec(), today=TODAY)
    scope = Scope(world.acme.id)
    assert day_statistics.covers(scope, flt, group)
    fast = transactions.report(session, scope, flt, use_rollup=True)
    slow = transactions.report(session, scope, flt, use_rollup=False)
    assert fast == slow


@pytest.mark.parametrize("args", [*FILTERS, {"tab": "declined"}, {"tab": "declined", "preset": "last_month"}])
def test_page_totals_from_the_totals_equal_totals_from_the_purchases(session, world, args):
    flt = parse_filter(args, purchases.spec(), today=TODAY)
    scope = Scope(world.acme.id)
    _, fast = purchases.page(session, scope, flt, key=None, limit=2, use_rollup=True)
    _, slow = purchases.page(session, scope, flt, key=None, limit=2, use_rollup=False)
    assert fast == slow


def test_filters_the_totals_cannot_answer_read_the_purchases(session, world):
    acme = Scope(world.acme.id)
    li = driver_scope(session, world.acme.id, world.drivers["li"].id)
    cases = [
        (acme, {"card": world.cards["c1"].number}, "day"),
        (acme, {"station": "S1"}, "month"),
        (acme, {"plate": "京A10002"}, "day"),
        (acme, {"driver": str(world.drivers["wang"].id)}, "day"),
        (li, {}, "day"),
        (acme, {}, "card"),
        (acme, {}, "station"),
    ]
    session.execute(PurchaseDay.__table__.delete())  # any use of the totals would now show zeros
    for scope, args, group in cases:
        flt = parse_filter({**args, "preset": "last_month", "group": group}, transactions.spec(), today=TODAY)
        assert not day_statistics.covers(scope, flt, group)
        report = transactions.report(session, scope, flt, use_rollup=True)
        assert report == transactions.report(session, scope, flt, use_rollup=False)
        assert report.total.amount > 0


def test_unknown_references_are_refused_with_the_totals_too(session, world):
    for args in ({"product": "97"}, {"region": "99"}):
        flt = parse_filter(args, transactions.spec(), today=TODAY)
        with pytest.raises(purchases.UnknownReference):
            transactions.report(session, Scope(world.acme.id), flt, use_rollup=True)
