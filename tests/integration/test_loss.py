"""Loss reporting, cancelling and replacement against a real database (no Flask)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.audit.models import AuditEvent
from portal.cards import loss
from portal.cards.controls import Controls
from portal.cards.errors import (
    AlreadyReported,
    CardNotActive,
    FundsInFlight,
    PasswordNotConfirmed,
    ReplacementTooEarly,
    ReportNotOpen,
)
from portal.cards.models import Card, CardControls, LossReport
from portal.cards.numbers import is_valid_card_number
from portal.cards.services import set_card_controls
from tests.builders import fund_card
from tests.conftest import T0

POLICY = loss.LossPolicy()


@pytest.fixture
def world(fleets):
    return fleets


def test_report_blocks_at_once_and_freezes_reserve_not_purse(session, world):
    fleet, _ = world
    card = fleet.cards[0]
    fund_card(session, card, reserve=500_00, purse=200_00, now=T0)
    report = loss.report_loss(session, card, reason="lost", note="丢在加油站", actor_id=fleet.admin_id, now=T0)
    session.commit()
    assert card.status == "lost" and loss.is_blocked(card)
    assert report.effective_at == T0 + timedelta(hours=24)
    assert report.replaceable_from == T0 + timedelta(days=7)
    assert ledger.card_account(session, card.id, "reserve").frozen
    assert not ledger.card_account(session, card.id, "purse").frozen
    assert (
        session.scalar(select(AuditEvent).where(AuditEvent.action == "cards.report_loss")).customer_id
        == fleet.customer.id
    )


def test_offline_purchases_before_full_effect_are_still_accepted(session, world):
    fleet, _ = world
    card = fleet.cards[0]
    loss.report_loss(session, card, reason="stolen", actor_id=fleet.admin_id, now=T0)
    assert loss.purchase_refusal(session, card, made_at=T0 + timedelta(minutes=1), online=True) == "card_lost"
    assert loss.purchase_refusal(session, card, made_at=T0 + timedelta(hours=23), online=False) is None
    assert loss.purchase_refusal(session, card, made_at=T0 + timedelta(hours=24), online=False) == "card_lost"
    assert loss.purchase_refusal(session, fleet.cards[1], made_at=T0, online=True) is None


def test_a_lost_card_cannot_be_reported_again(session, world):
    fleet, _ = world
    loss.report_loss(session, fleet.cards[0], reason="lost", actor_id=fleet.admin_id, now=T0)
    session.commit()
    with pytest.raises(AlreadyReported):
        loss.report_loss(session, fleet.cards[0], reason="lost", actor_id=fleet.admin_id, now=T0)
    assert session.scalar(select(func.count()).select_from(LossReport)) == 1


def test_cancel_needs_the_password_and_reactivates(session, world):
    fleet, _ = world
    card = fleet.cards[0]
    report = loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_id, now=T0)
    session.commit()
    with pytest.raises(PasswordNotConfirmed):
        loss.cancel_loss(session, report, actor_id=fleet.admin_id, now=T0, password_confirmed=False)
    assert card.status == "lost"
    loss.cancel_loss(session, report, actor_id=fleet.admin_id, now=T0 + timedelta(hours=2), password_confirmed=True)
    session.commit()
    assert card.status == "active" and report.status == "cancelled"
    assert not ledger.card_account(session, card.id, "reserve").frozen
    with pytest.raises(ReportNotOpen):
        loss.cancel_loss(session, report, actor_id=fleet.admin_id, now=T0, password_confirmed=True)
    # Reported again later: a new open report is allowed once the first is closed.
    loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_id, now=T0 + timedelta(days=1))
    session.commit()


def test_replacement_before_its_time_is_refused(session, world):
    fleet, _ = world
    report = loss.report_loss(session, fleet.cards[0], reason="lost", actor_id=fleet.admin_id, now=T0)
    with pytest.raises(ReplacementTooEarly) as refused:
        loss.replace_card(
            session,
            report,
            actor_id=fleet.admin_id,
            now=T0 + timedelta(days=7) - timedelta(seconds=1),
            password_confirmed=True,
            idempotency_key="k1",
        )
    assert refused.value.detail["replaceable_from"] == T0 + timedelta(days=7)
    assert fleet.cards[0].status == "lost"


def test_replacement_moves_reserve_purse_and_points_in_one_batch_and_closes_the_old_card(session, world):
    fleet, _ = world
    card = fleet.cards[0]
    fund_card(session, card, reserve=500_00, purse=123_45, now=T0)
    points = ledger.card_account(session, card.id, "points")
    issued = ledger.system_account(session, "points_issued")
    ledger.transfer(session, ledger.TransferRequest("pts:1", issued.id, points.id, 77, "points_earn"), now=T0)
    set_card_controls(session, card, Controls(per_purchase_limit_fen=800_00), actor_id=fleet.admin_id, now=T0)
    report = loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_id, now=T0)
    session.commit()

    later = T0 + timedelta(days=7)
    new = loss.replace_card(
        session, report, actor_id=fleet.admin_id, now=later, password_confirmed=True, idempotency_key="form-1"
    )
    session.commit()

    assert is_valid_card_number(new.number) and new.number != card.number
    assert (new.replaces_card_id, new.driver_id, new.vehicle_id, new.nickname) == (
        card.id,
        card.driver_id,
        card.vehicle_id,
        card.nickname,
    )
    assert card.status == "closed" and new.status == "active" and report.status == "replaced"
    for kind, amount in (("reserve", 500_00), ("purse", 123_45), ("points", 77)):
        assert ledger.balance(ledger.card_account(session, new.id, kind)) == amount
        old = ledger.card_account(session, card.id, kind)
        session.refresh(old)
        assert ledger.balance(old) == 0 and old.closed
    moves = session.scalars(select(ledger.Transfer).where(ledger.Transfer.code == "replacement")).all()
    assert len(moves) == 3 and len({t.batch_id for t in moves}) == 1
    assert session.get(CardControls, new.id).per_purchase_limit_fen == 800_00
    assert ledger.verify(session).ok

    # The same form submitted again returns the same card; nothing moves twice.
    again = loss.replace_card(
        session, report, actor_id=fleet.admin_id, now=later, password_confirmed=True, idempotency_key="form-1"
    )
    assert again.id == new.id
    with pytest.raises(ReportNotOpen):
        loss.replace_card(
            session, report, actor_id=fleet.admin_id, now=later, password_confirmed=True, idempotency_key="form-2"
        )
    assert (
        session.scalar(select(func.count()).select_from(ledger.Transfer).where(ledger.Transfer.code == "replacement"))
        == 3
    )
    with pytest.raises(CardNotActive):
        loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_id, now=later)


def test_replacement_waits_for_a_pending_load(session, world):
    fleet, _ = world
    card = fleet.cards[0]
    fund_card(session, card, reserve=100_00, purse=0, now=T0)
    reserve, purse = (ledger.card_account(session, card.id, k) for k in ("reserve", "purse"))
    ledger.create_pending(
        session,
        ledger.TransferRequest("load:1", reserve.id, purse.id, 50_00, "load"),
        now=T0,
        expires_at=T0 + timedelta(days=30),
    )
    report = loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_id, now=T0)
    session.commit()
    with pytest.raises(FundsInFlight):
        loss.replace_card(
            session,
            report,
            actor_id=fleet.admin_id,
            now=T0 + timedelta(days=8),
            password_confirmed=True,
            idempotency_key="k",
        )
    session.rollback()
    assert session.get(Card, card.id).status == "lost"


def test_configurable_periods(session, world):
    fleet, _ = world
    policy = loss.LossPolicy.from_config({"LOSS_EFFECT_HOURS": 2, "REPLACEMENT_DAYS": 1})
    report = loss.report_loss(session, fleet.cards[1], reason="damaged", actor_id=fleet.admin_id, now=T0, policy=policy)
    assert report.effective_at == T0 + timedelta(hours=2)
    assert report.replaceable_from == T0 + timedelta(days=1)
    new = loss.replace_card(
        session,
        report,
        actor_id=fleet.admin_id,
        now=T0 + timedelta(days=1),
        password_confirmed=True,
        idempotency_key="k",
    )
    assert new.status == "active"


def test_database_refuses_two_open_reports_for_one_card(session, world):
    from sqlalchemy.exc import IntegrityError

    fleet, _ = world
    card = fleet.cards[0]
    loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_id, now=T0)
    session.commit()
    session.add(
        LossReport(
            card_id=card.id,
            customer_id=card.customer_id,
            reason="lost",
            reported_at=T0,
            effective_at=T0,
            replaceable_from=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
