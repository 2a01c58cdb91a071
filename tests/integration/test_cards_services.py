"""Card assignment, controls and control templates (services, no Flask)."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent
from portal.cards import services
from portal.cards.controls import Controls
from portal.cards.errors import CardNotActive, DuplicateName, InvalidControls, NotOwned
from portal.cards.models import CardControls
from portal.reference.models import Region, Station
from tests.conftest import T0


@pytest.fixture
def world(fleets):
    return fleets


def test_assign_card_to_driver_and_vehicle_of_the_same_customer_only(session, world):
    mine, theirs = world
    card = mine.cards[1]
    services.assign_card(
        session,
        card,
        driver_id=mine.driver.id,
        vehicle_id=mine.vehicle.id,
        nickname=" 夜班 ",
        actor_id=mine.admin_id,
        now=T0,
    )
    assert (card.driver_id, card.vehicle_id, card.nickname) == (mine.driver.id, mine.vehicle.id, "夜班")
    with pytest.raises(NotOwned):
        services.assign_card(
            session, card, driver_id=theirs.driver.id, vehicle_id=None, nickname="", actor_id=mine.admin_id, now=T0
        )
    assert card.driver_id == mine.driver.id
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "cards.assign")) == 1


def test_search_cards(session, world):
    mine, _ = world
    cid = mine.customer.id
    assert services.customer_cards(session, cid) == mine.cards
    assert services.customer_cards(session, cid, query="司机1") == [mine.cards[0]]
    assert services.customer_cards(session, cid, query=mine.cards[1].number[-6:]) == [mine.cards[1]]
    assert services.customer_cards(session, cid, query="京a12341") == [mine.cards[0]]
    assert services.customer_cards(session, cid, status="lost") == []
    assert services.driver_cards(session, mine.driver.id) == [mine.cards[0]]


def test_controls_changes_bump_the_version_and_are_audited(session, world):
    mine, _ = world
    card = mine.cards[0]
    assert services.controls_for_chip(session, card.id)[0] == 0
    station = session.scalar(select(Station).where(Station.code == "ST110001"))
    controls = Controls(
        per_purchase_limit_fen=500_00,
        allowed_products=("92",),
        allowed_station_ids=(station.id,),
        hours_start_min=360,
        hours_end_min=1320,
    )
    services.set_card_controls(session, card, controls, actor_id=mine.admin_id, now=T0)
    assert services.controls_for_chip(session, card.id) == (1, controls)
    services.set_card_controls(session, card, controls, actor_id=mine.admin_id, now=T0)  # no change
    assert services.controls_version(session, card.id) == 1
    services.set_card_controls(session, card, Controls(daily_count_limit=3), actor_id=mine.admin_id, now=T0)
    assert services.controls_version(session, card.id) == 2
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "cards.set_controls")).all()
    assert [e.detail["version"] for e in events] == [1, 2]
    assert events[1].detail["before"]["per_purchase_limit_fen"] == 500_00


def test_invalid_or_unknown_references_change_nothing(session, world):
    mine, _ = world
    card = mine.cards[0]
    with pytest.raises(InvalidControls):
        services.set_card_controls(
            session, card, Controls(allowed_station_ids=tuple(range(1, 12))), actor_id=None, now=T0
        )
    with pytest.raises(NotOwned):
        services.set_card_controls(session, card, Controls(allowed_station_ids=(999,)), actor_id=None, now=T0)
    with pytest.raises(NotOwned):
        services.set_card_controls(session, card, Controls(allowed_products=("98",)), actor_id=None, now=T0)
    with pytest.raises(NotOwned):
        services.set_card_controls(session, card, Controls(allowed_region_ids=(999,)), actor_id=None, now=T0)
    assert session.get(CardControls, card.id) is None


def test_database_refuses_controls_the_code_refuses(session, world):
    mine, _ = world
    session.add(
        CardControls(
            card_id=mine.cards[0].id, customer_id=mine.customer.id, allowed_station_ids=list(range(11)), updated_at=T0
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    session.add(
        CardControls(card_id=mine.cards[0].id, customer_id=mine.customer.id, per_purchase_limit_fen=0, updated_at=T0)
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    session.add(
        CardControls(
            card_id=mine.cards[0].id, customer_id=mine.customer.id, hours_start_min=60, hours_end_min=60, updated_at=T0
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_templates_apply_to_many_cards_at_once(session, world):
    mine, theirs = world
    beijing = session.scalar(select(Region).where(Region.code == "11"))
    template = services.save_template(
        session,
        mine.customer.id,
        "城区白班",
        Controls(daily_amount_limit_fen=1000_00, allowed_region_ids=(beijing.id,)),
        actor_id=mine.admin_id,
        now=T0,
    )
    with pytest.raises(DuplicateName):
        services.save_template(session, mine.customer.id, "城区白班", Controls(), actor_id=None, now=T0)
    changed = services.apply_template(session, template, mine.cards, actor_id=mine.admin_id, now=T0)
    assert changed == 2
    for card in mine.cards:
        row = session.get(CardControls, card.id)
        assert (row.daily_amount_limit_fen, row.template_id, row.version) == (1000_00, template.id, 1)
    assert services.apply_template(session, template, mine.cards, actor_id=mine.admin_id, now=T0) == 0
    with pytest.raises(NotOwned):
        services.apply_template(session, template, [mine.cards[0], theirs.cards[0]], actor_id=None, now=T0)
    services.delete_template(session, template, actor_id=mine.admin_id, now=T0)
    assert session.get(CardControls, mine.cards[0].id).template_id is None
    assert session.get(CardControls, mine.cards[0].id).daily_amount_limit_fen == 1000_00


def test_controls_of_a_lost_card_cannot_change(session, world):
    from portal.cards.loss import report_loss

    mine, _ = world
    report_loss(session, mine.cards[0], reason="lost", actor_id=None, now=T0)
    with pytest.raises(CardNotActive):
        services.set_card_controls(session, mine.cards[0], Controls(daily_count_limit=1), actor_id=None, now=T0)
