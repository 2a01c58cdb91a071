"""Purchase authorization against a real session: every decline reason, approvals through the
ledger, replays, refunds, offline purchases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.ledger.models import Transfer
from portal.purchases import rules
from portal.purchases.authorization import AuthorizationError, PurchaseRequest, authorize
from portal.purchases.models import Purchase
from portal.purchases.offline import record_offline_purchase
from portal.purchases.refunds import refund
from tests.builders import CARD_NUMBER, PRICE_92, points_balance, purse_balance, set_controls, station_setup
from tests.conftest import T0


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=100_000)
    session.commit()
    return w


def req(seq=1, litres_ml=40_000, price=PRICE_92, product="92", at=T0, plate="", number=CARD_NUMBER, amount=None):
    amount = litres_ml * price // 1000 if amount is None else amount
    return PurchaseRequest(
        card_number=number,
        product_code=product,
        litres_ml=litres_ml,
        unit_price_fen=price,
        amount_fen=amount,
        terminal_seq=seq,
        at=at,
        plate=plate,
    )


def test_approval_debits_purse_credits_station_sales_and_earns_points(session, world):
    answer = authorize(session, world.terminal, req(), now=T0)
    session.commit()
    assert answer.approved and answer.code == "approved"
    p = answer.purchase
    assert p.amount_fen == 30_000 and p.points == 300  # 300 yuan of gasoline, 1 point per yuan
    assert p.balance_after_fen == 70_000 == purse_balance(session, world.card)
    assert points_balance(session, world.card) == 300
    # The station's own sales account: purchases at other stations never touch it.
    assert ledger.balance(ledger.station_account(session, "station_sales", world.station.id)) == 30_000
    assert ledger.balance(ledger.system_account(session, "station_sales")) == 0
    assert p.plate == "京A12345" and p.region_id == world.region.id and p.source == "online"
    assert ledger.verify(session).ok


def test_replay_returns_original_answer_and_posts_once(session, world):
    first = authorize(session, world.terminal, req(seq=7), now=T0)
    session.commit()
    again = authorize(session, world.terminal, req(seq=7), now=T0 + timedelta(seconds=5))
    session.commit()
    assert again.replayed and again.purchase.id == first.purchase.id
    assert purse_balance(session, world.card) == 70_000
    assert session.scalar(select(func.count(Purchase.id))) == 1


def test_replay_of_a_decline_stays_a_decline(session, world):
    first = authorize(session, world.terminal, req(seq=3, litres_ml=200_000), now=T0)  # 1,500 yuan > purse
    session.commit()
    assert first.code == rules.INSUFFICIENT_BALANCE
    world_fund = purse_balance(session, world.card)
    again = authorize(session, world.terminal, req(seq=3, litres_ml=200_000), now=T0)
    assert again.replayed and again.code == rules.INSUFFICIENT_BALANCE
    assert purse_balance(session, world.card) == world_fund


def test_same_sequence_for_a_different_request_is_refused(session, world):
    authorize(session, world.terminal, req(seq=9), now=T0)
    session.commit()
    with pytest.raises(AuthorizationError) as caught:
        authorize(session, world.terminal, req(seq=9, litres_ml=10_000), now=T0)
    assert caught.value.code == "sequence_reused" and caught.value.status == 409


def _decline(session, world, request, expected):
    before = purse_balance(session, world.card)
    answer = authorize(session, world.terminal, request, now=T0)
    session.commit()
    assert not answer.approved
    assert answer.code == expected
    assert answer.purchase.status == "declined" and answer.purchase.decline_code == expected
    assert answer.purchase.transfer_id is None and answer.purchase.points == 0
    assert purse_balance(session, world.card) == before
    return answer


def test_decline_card_lost(session, world):
    world.card.status = "lost"
    _decline(session, world, req(), rules.CARD_LOST)


def test_decline_card_closed(session, world):
    world.card.status = "closed"
    _decline(session, world, req(), rules.CARD_CLOSED)


def test_decline_card_blocked_when_purse_frozen(session, world):
    ledger.freeze_account(session, ledger.card_account(session, world.card.id, "purse").id)
    _decline(session, world, req(), rules.CARD_BLOCKED)


def test_decline_card_expired(session, world):
    world.card.expires_on = date(2026, 3, 1)  # T0 is 2026-03-02 in Shanghai
    _decline(session, world, req(), rules.CARD_EXPIRED)


def test_decline_insufficient_balance(session, world):
    _decline(session, world, req(litres_ml=140_000), rules.INSUFFICIENT_BALANCE)  # 1,050 yuan > 1,000


def test_decline_per_purchase_limit(session, world):
    set_controls(session, world.card, per_purchase_limit_fen=20_000)
    _decline(session, world, req(), rules.PER_PURCHASE_LIMIT)


def test_decline_daily_amount_limit(session, world):
    set_controls(session, world.card, daily_amount_limit_fen=50_000)
    assert authorize(session, world.terminal, req(seq=1), now=T0).approved  # 300 yuan
    _decline(session, world, req(seq=2), rules.DAILY_AMOUNT_LIMIT)  # 600 > 500


def test_decline_daily_count_limit(session, world):
    set_controls(session, world.card, daily_count_limit=1)
    assert authorize(session, world.terminal, req(seq=1, litres_ml=1000), now=T0).approved
    _decline(session, world, req(seq=2, litres_ml=1000), rules.DAILY_COUNT_LIMIT)


def test_daily_limits_count_the_business_day_only(session, world):
    set_controls(session, world.card, daily_count_limit=1)
    yesterday = T0 - timedelta(hours=12)  # 22:00 the day before, Shanghai
    assert authorize(session, world.terminal, req(seq=1, litres_ml=1000, at=yesterday), now=yesterday).approved
    assert authorize(session, world.terminal, req(seq=2, litres_ml=1000), now=T0).approved


def test_decline_daily_litres_limit(session, world):
    set_controls(session, world.card, daily_litres_limit_ml=50_000)
    assert authorize(session, world.terminal, req(seq=1, litres_ml=30_000), now=T0).approved
    _decline(session, world, req(seq=2, litres_ml=30_000), rules.DAILY_LITRES_LIMIT)


def test_decline_product_not_allowed(session, world):
    set_controls(session, world.card, allowed_products=["0"])
    _decline(session, world, req(), rules.PRODUCT_NOT_ALLOWED)


def test_decline_station_not_allowed(session, world):
    set_controls(session, world.card, allowed_station_ids=[world.far_station.id])
    _decline(session, world, req(), rules.STATION_NOT_ALLOWED)


def test_decline_region_not_allowed(session, world):
    set_controls(session, world.card, allowed_region_ids=[world.far_region.id])
    _decline(session, world, req(), rules.REGION_NOT_ALLOWED)


def test_decline_hours_not_allowed(session, world):
    set_controls(session, world.card, hours_start_min=6 * 60, hours_end_min=9 * 60)  # T0 is 10:00 local
    _decline(session, world, req(), rules.HOURS_NOT_ALLOWED)


def test_decline_plate_mismatch(session, world):
    set_controls(session, world.card, plate_lock="京A12345")
    _decline(session, world, req(plate="京B99999"), rules.PLATE_MISMATCH)
    assert authorize(session, world.terminal, req(seq=2, plate="京A·12345"), now=T0).approved


def test_every_decline_code_has_a_test():
    tested = {name[len("test_decline_") :] for name in globals() if name.startswith("test_decline_")}
    expected = {code.replace("card_blocked", "card_blocked_when_purse_frozen") for code in rules.DECLINE_CODES}
    assert expected == tested


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"number": "9030119999999999"}, "unknown_card"),
        ({"product": "XX"}, "unknown_product"),
        ({"amount": 30_002}, "amount_mismatch"),
        ({"at": T0 + timedelta(hours=1)}, "clock_skew"),
        ({"litres_ml": 0}, "out_of_range"),
    ],
)
def test_bad_requests_change_nothing(session, world, change, code):
    with pytest.raises(AuthorizationError) as caught:
        authorize(session, world.terminal, req(**change), now=T0)
    session.rollback()
    assert caught.value.code == code
    assert session.scalar(select(func.count(Purchase.id))) == 0
    assert purse_balance(session, world.card) == 100_000


def test_amount_within_one_fen_of_litres_times_price_is_accepted(session, world):
    # 33.333 L x 7.50 = 249.9975 yuan: 24,999 or 25,000 fen both agree within a fen.
    assert authorize(session, world.terminal, req(seq=1, litres_ml=33_333, amount=25_000), now=T0).approved
    assert authorize(session, world.terminal, req(seq=2, litres_ml=33_333, amount=24_999), now=T0).approved


def test_refund_reverses_money_and_points_once(session, world):
    p = authorize(session, world.terminal, req(seq=1), now=T0).purchase
    session.commit()
    answer = refund(session, world.terminal, purchase_id=p.id, terminal_seq=2, now=T0)
    session.commit()
    assert answer.purchase.kind == "refund" and answer.purchase.refund_of_id == p.id
    assert answer.purchase.points == 300
    assert purse_balance(session, world.card) == 100_000 and points_balance(session, world.card) == 0
    assert refund(session, world.terminal, purchase_id=p.id, terminal_seq=2, now=T0).replayed
    with pytest.raises(AuthorizationError) as caught:
        refund(session, world.terminal, purchase_id=p.id, terminal_seq=3, now=T0)
    assert caught.value.code == "already_refunded"
    session.rollback()
    with pytest.raises(AuthorizationError) as caught:
        refund(session, world.far_terminal, purchase_id=p.id, terminal_seq=1, now=T0)
    assert caught.value.code == "unknown_purchase"
    assert ledger.verify(session).ok


def test_refund_gives_back_the_daily_allowance(session, world):
    set_controls(session, world.card, daily_count_limit=1)
    p = authorize(session, world.terminal, req(seq=1), now=T0).purchase
    refund(session, world.terminal, purchase_id=p.id, terminal_seq=2, now=T0)
    assert authorize(session, world.terminal, req(seq=3), now=T0).approved


def test_offline_purchase_is_booked_once_with_points(session, world):
    kwargs = dict(
        chip_counter=5,
        station_code="ST110001",
        product_code="0",
        litres_ml=50_000,
        amount_fen=36_000,
        at=T0 - timedelta(days=1),
        now=T0,
    )
    first = record_offline_purchase(session, world.card, **kwargs)
    session.commit()
    again = record_offline_purchase(session, world.card, **kwargs)
    assert again.id == first.id
    assert first.source == "offline" and first.points == 180 and first.unit_price_fen == 720  # diesel: 1 per 2 yuan
    assert purse_balance(session, world.card) == 64_000
    assert session.scalar(select(func.count(Transfer.id)).where(Transfer.code == "purchase")) == 1


def test_offline_purchase_of_a_lost_card_is_still_booked(session, world):
    # Made before the loss took full effect (after it: tests/integration/test_offline_after_loss.py).
    from portal.cards.loss import report_loss

    report_loss(session, world.card, reason="lost", actor_id=None, now=T0)
    p = record_offline_purchase(
        session,
        world.card,
        chip_counter=1,
        station_code="ST110001",
        product_code="92",
        litres_ml=10_000,
        amount_fen=7_500,
        at=T0,
        now=T0,
    )
    assert p.status == "approved"


def test_a_purchase_booked_to_the_national_account_is_refunded_from_it(session, world, monkeypatch):
    """Purchases booked before stations had their own accounts (migration 0018) credited the
    national station_sales account: their refund takes the money back from there."""
    national_ids = ledger.system_account_ids  # as before 0018: the national accounts, whatever the station
    monkeypatch.setattr(
        ledger, "system_account_ids", lambda session, kinds, station_id=None: national_ids(session, kinds)
    )
    p = authorize(session, world.terminal, req(seq=1), now=T0).purchase
    session.commit()
    monkeypatch.undo()
    national = ledger.system_account(session, "station_sales")
    assert ledger.balance(national) == p.amount_fen
    refund(session, world.terminal, purchase_id=p.id, terminal_seq=2, now=T0)
    session.commit()
    session.expire_all()
    assert ledger.balance(session.get(ledger.Account, national.id)) == 0
    assert ledger.balance(ledger.station_account(session, "station_sales", world.station.id)) == 0
    assert purse_balance(session, world.card) == 100_000
    assert ledger.verify(session).ok
