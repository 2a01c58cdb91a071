"""The customer zone's figures agree with the ledger to the fen (services + a real session)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from portal import ledger
from portal.ledger.models import MONEY, POINTS
from portal.queries import balances, home, journal, purchases, statements
from portal.queries.filters import Filter, parse_filter
from portal.queries.scope import Scope, UnknownCard, driver_scope
from portal.statistics import points as points_statistics
from portal.statistics import transactions
from tests.builders import fleet_history
from tests.conftest import T0

TODAY = date(2026, 3, 2)


@pytest.fixture
def world(session):
    world = fleet_history(session, T0)
    session.commit()
    return world


def custom(start, end, **extra) -> Filter:
    return Filter(preset="custom", start=start, end=end, extra=extra)


def test_statement_closing_is_the_ledger_balance_and_months_chain(session, world):
    for name in ("c1", "c2", "c3"):
        card = world.cards[name]
        february, march = (
            statements.statements(session, Scope(world.acme.id), m, card.number)
            for m in (date(2026, 2, 1), date(2026, 3, 1))
        )
        for feb, mar in zip(february, march, strict=True):
            assert feb.closing == mar.opening
            assert mar.closing == ledger.balance(ledger.card_account(session, card.id, feb.account.kind))
            for s in (feb, mar):
                assert s.opening + sum(line.signed for line in s.lines) == s.closing
                assert s.money_in - s.money_out == s.closing - s.opening
    unit = statements.statements(session, Scope(world.acme.id), date(2026, 3, 1))[0]
    assert unit.closing == ledger.balance(ledger.unit_account(session, world.acme.id)) == 10_000_00 - 3 * 2_000_00


def test_pending_loads_move_nothing_on_the_statement(session, world):
    c2 = world.cards["c2"]
    reserve, purse = statements.statements(session, Scope(world.acme.id), date(2026, 3, 1), c2.number)
    assert reserve.lines == []  # the only March movement is a pending hold
    assert reserve.closing == ledger.balance(ledger.card_account(session, c2.id, "reserve")) == 1_000_00


def test_balances_page_is_the_ledger(session, world):
    result = balances.card_balances(session, Scope(world.acme.id))
    assert [r.number for r in result.rows] == [world.cards[n].number for n in ("c1", "c2", "c3")]
    for row in result.rows:
        assert row.reserve == ledger.balance(ledger.card_account(session, row.card_id, "reserve"))
        assert row.purse == ledger.balance(ledger.card_account(session, row.card_id, "purse"))
        assert row.points == ledger.balance(ledger.card_account(session, row.card_id, "points"))
    assert result.pending == 300_00
    assert result.purse == 3 * 1_000_00 - (300_00 + 150_00 + 100_00 - 20_00) - (200_00 + 80_00)


def test_balances_search_sort_and_driver_scope(session, world):
    scope = Scope(world.acme.id)
    assert [r.plate for r in balances.card_balances(session, scope, search="A10002").rows] == ["京A10002"]
    assert [r.driver for r in balances.card_balances(session, scope, search="李").rows] == ["李师傅"]
    assert [r.number[-1] for r in balances.card_balances(session, scope, sort="purse", descending=True).rows] == [
        "3",
        "2",
        "1",
    ]
    mine = driver_scope(session, world.acme.id, world.drivers["li"].id)
    assert [r.number for r in balances.card_balances(session, mine).rows] == [world.cards["c1"].number]


def test_purchase_totals_agree_with_the_purse_movements(session, world):
    scope = Scope(world.acme.id)
    flt = custom(date(2026, 1, 1), TODAY, tab="approved")
    totals = purchases.totals(session, purchases.conditions(session, scope, flt))
    spent = 0
    for name in ("c1", "c2", "c3"):
        purse = ledger.card_account(session, world.cards[name].id, "purse")
        loaded = 1_000_00
        spent += loaded - ledger.balance(purse)
    assert totals.amount == spent == 300_00 + 150_00 + 200_00 + 100_00 + 80_00 - 20_00
    assert (totals.count, totals.purchases) == (6, 5)


def test_keyset_pages_cover_every_row_once_in_order(session, world):
    scope = Scope(world.acme.id)
    flt = custom(date(2026, 1, 1), TODAY, tab="approved")
    seen, key = [], None
    while True:
        page, _ = purchases.page(session, scope, flt, key=key, limit=2)
        seen.extend(row[0] for row in page.rows)
        if page.next_key is None:
            break
        key = page.next_key
    assert len(seen) == len({p.id for p in seen}) == 6
    assert [(p.at, p.id) for p in seen] == sorted(((p.at, p.id) for p in seen), reverse=True)


def test_a_driver_cannot_name_someone_elses_card(session, world):
    mine = driver_scope(session, world.acme.id, world.drivers["li"].id)
    for number in (world.cards["c2"].number, world.cards["x1"].number):
        with pytest.raises(UnknownCard):
            purchases.conditions(session, mine, Filter("custom", date(2026, 1, 1), TODAY, card=number))
    with pytest.raises(UnknownCard):
        purchases.conditions(
            session, Scope(world.acme.id), Filter("custom", date(2026, 1, 1), TODAY, card=world.cards["x1"].number)
        )
    page, totals = purchases.page(session, mine, custom(date(2026, 1, 1), TODAY, tab="approved"), key=None, limit=50)
    assert {p.card_id for p, *_names in page.rows} == {world.cards["c1"].id}


def test_account_transactions_and_their_totals(session, world):
    scope = Scope(world.acme.id)
    flt = custom(date(2026, 1, 1), TODAY)
    j = journal.journal(session, scope, flt, MONEY, journal.ACCOUNT_CODES)
    page = journal.page(session, j, flt, key=None, limit=50)
    assert page.totals == {"deposit": (1, 10_000_00), "allocation": (3, 6_000_00), "load": (4, 3_300_00)}
    assert all(m.transfer.code not in ("purchase", "refund") for m in page.rows)
    mine = driver_scope(session, world.acme.id, world.drivers["li"].id)
    j = journal.journal(session, mine, flt, MONEY, journal.ACCOUNT_CODES)
    codes = sorted(m.transfer.code for m in journal.page(session, j, flt, key=None, limit=50).rows)
    assert codes == ["allocation", "load"]  # the deposit into the unit account is not a driver's business


def test_points_running_balance_ends_at_the_ledger_balance(session, world):
    scope = Scope(world.acme.id)
    flt = custom(date(2026, 1, 1), TODAY)
    j = journal.journal(session, scope, flt, POINTS, journal.POINTS_CODES)
    page = journal.points_page(session, j, flt, key=None, limit=3)
    total = sum(ledger.balance(ledger.card_account(session, world.cards[n].id, "points")) for n in ("c1", "c2", "c3"))
    assert page.rows[0].balance_after == total == 300 + 150 + 200 + 100 + 80 - 20
    for newer, older in zip(page.rows, page.rows[1:], strict=False):
        assert older.balance_after == newer.balance_after - newer.signed
    second = journal.points_page(session, j, flt, key=page.next_key, limit=3)
    assert second.rows[0].balance_after == page.rows[-1].balance_after - page.rows[-1].signed


def test_statistics_total_equals_the_purchase_totals_and_buckets_on_beijing_days(session, world):
    scope = Scope(world.acme.id)
    flt = parse_filter(
        {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02", "group": "day"},
        transactions.spec(),
        today=TODAY,
    )
    report = transactions.report(session, scope, flt)
    totals = purchases.totals(session, purchases.conditions(session, scope, flt, status="approved"))
    assert (report.total.amount, report.total.litres_ml, report.total.points) == (
        totals.amount,
        totals.litres_ml,
        totals.points,
    )
    by_day = {row.key: row.amount for row in report.rows}
    # T0 - 12h is 2026-03-01 22:00 Beijing; T0 - 9.5h is 03-02 00:30 Beijing (still 03-01 in UTC).
    assert by_day["2026-03-01"] == 100_00
    assert by_day["2026-03-02"] == 80_00 - 20_00


def test_statistics_by_vehicle_show_litres_per_100_km(session, world):
    flt = parse_filter(
        {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02", "group": "vehicle"},
        transactions.spec(),
        today=TODAY,
    )
    rows = {row.label: row for row in transactions.report(session, Scope(world.acme.id), flt).rows}
    # Readings 10,000 / 10,400 / 10,800 km; fuel after the first: 20 L + 12.5 L over 800 km.
    assert rows["京A10001"].ml_per_100km == 4063  # 4062.5 ml rounded half up
    assert rows["京A10002"].ml_per_100km is None
    assert rows["京A10001"].average_price is not None


def test_points_statistics_by_month(session, world):
    flt = parse_filter(
        {"preset": "custom", "start": "2026-01-01", "end": "2026-03-02", "group": "month"},
        points_statistics.spec(),
        today=TODAY,
    )
    report = points_statistics.report(session, Scope(world.acme.id), flt)
    assert [(r.key, r.earned, r.redeemed) for r in report.rows] == [("2026-02", 650, 0), ("2026-03", 180, 20)]


def test_home_summary(session, world):
    summary = home.home_summary(session, Scope(world.acme.id), today=TODAY)
    assert summary.unit_balance == ledger.balance(ledger.unit_account(session, world.acme.id))
    # Two purchases and a refund: three rows, as the purchase page lists and counts them.
    assert summary.this_month.amount == 160_00 and summary.this_month.count == 3
    assert summary.last_month.amount == 650_00
    assert summary.pending_loads == 300_00
    assert summary.cards_by_status == {"active": 3, "lost": 0, "closed": 0}
    assert {a.code for a in summary.alerts} >= {"funds_to_load", "load_pending"}
    assert len(summary.recent_purchases) == 5
    driver = home.home_summary(session, driver_scope(session, world.acme.id, world.drivers["li"].id), today=TODAY)
    assert driver.unit_balance is None
    assert driver.this_month.amount == 100_00 - 20_00


def _load(session, card, amount, at, *, resolve=None, resolved_at=None, hold_hours=24):
    """A two-phase load on `card`: pending, then posted ("post"), voided ("void") or left waiting."""
    from datetime import timedelta

    reserve = ledger.card_account(session, card.id, "reserve")
    purse = ledger.card_account(session, card.id, "purse")
    pending = ledger.create_pending(
        session,
        ledger.TransferRequest(f"load-{amount}-{at.isoformat()}", reserve.id, purse.id, amount, "load"),
        now=at,
        expires_at=at + timedelta(hours=hold_hours),
    )
    if resolve == "post":
        ledger.post_pending(session, f"post-{pending.id}", pending.id, now=resolved_at)
    elif resolve == "void":
        ledger.void_pending(session, f"void-{pending.id}", pending.id, now=resolved_at)
    elif resolve == "expire":
        ledger.expire_pending(session, now=resolved_at)
    return pending


def test_a_two_phase_load_is_one_movement_with_its_state(session, world):
    """Issue 12: a load was a pending row plus a posted or voided row, so totals counted it twice."""
    from datetime import timedelta

    c3 = world.cards["c3"]
    _load(session, c3, 100_00, T0 - timedelta(hours=8), resolve="post", resolved_at=T0 - timedelta(hours=7))
    _load(session, c3, 200_00, T0 - timedelta(hours=6), resolve="void", resolved_at=T0 - timedelta(hours=5))
    _load(session, c3, 400_00, T0 - timedelta(days=1, hours=9), resolve="expire", resolved_at=T0 - timedelta(hours=4))
    session.commit()
    scope = Scope(world.acme.id)
    flt = custom(date(2026, 3, 1), TODAY, type="load")
    j = journal.journal(session, scope, flt, MONEY, journal.ACCOUNT_CODES)
    page = journal.page(session, j, flt, key=None, limit=50)
    # fleet_history's own pending load on c2 (300.00) is the fourth.
    assert page.totals == {"load": (4, 100_00 + 200_00 + 400_00 + 300_00)}
    assert page.states == {
        "loaded": (1, 100_00),
        "cancelled": (1, 200_00),
        "expired": (1, 400_00),
        "waiting": (1, 300_00),
    }
    assert sorted(m.state for m in page.rows) == ["cancelled", "expired", "loaded", "waiting"]
    assert all(m.transfer.kind == "pending" for m in page.rows)
    exported = list(journal.stream(session, j, flt))
    assert sum(m.transfer.amount for m in exported) == 1_000_00 and len(exported) == 4


def test_points_statistics_net_is_the_points_balance_with_refunds_and_replacements(session, world):
    """Issue 12: points taken back by a refund (a reversal) and points a replacement card inherits
    were left out, so the net disagreed with the balance."""
    from portal.points.services import take_back_for_refund

    c1, c3 = world.cards["c1"], world.cards["c3"]
    # A purchase that earned 40 points on c1 (only its transfer id and points matter here).
    earned = SimpleNamespace(transfer_id="pos:earned", points=40)
    move_points = ledger.TransferRequest(
        "pos:earned:pts",
        ledger.system_account(session, "points_issued", POINTS).id,
        ledger.card_account(session, c1.id, "points").id,
        40,
        "points_earn",
    )
    ledger.transfer(session, move_points, now=T0)
    assert take_back_for_refund(session, earned, "refund-x", now=T0) == 40
    old_points = ledger.card_account(session, c1.id, "points")
    carried = ledger.balance(old_points)
    ledger.transfer(
        session,
        ledger.TransferRequest(
            "carry", old_points.id, ledger.card_account(session, c3.id, "points").id, carried, "replacement"
        ),  # fmt: skip
        now=T0,
    )
    session.commit()
    scope = Scope(world.acme.id)
    flt = custom(date(2026, 1, 1), TODAY, group="card")
    report = points_statistics.report(session, scope, flt)
    balance = sum(ledger.balance(ledger.card_account(session, world.cards[n].id, "points")) for n in ("c1", "c2", "c3"))
    assert report.total.net == balance
    assert report.total.taken_back == 40 and report.total.carried == 0
    by_card = {row.key: row for row in report.rows}
    assert by_card[c1.id].carried == -carried and by_card[c3.id].carried == carried
    assert by_card[c1.id].net == 0 == ledger.balance(old_points)
