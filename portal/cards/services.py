"""Sub-card administration: who uses a card (driver, vehicle, nickname), and its controls.

Services take a Session, flush and never commit; every change is audited. A change to a card's
controls increments `CardControls.version`, which the chip sync compares with the version on the
chip: a card whose chip holds an older version is "pending sync".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.cards.controls import NO_CONTROLS, Controls, validate_controls
from portal.cards.errors import CardNotActive, DuplicateName, InvalidControls, NotOwned
from portal.cards.models import Card, CardControls, ControlTemplate
from portal.chips.models import ChipSync
from portal.drivers.models import Driver, Vehicle
from portal.reference.models import Product, Region, Station

# --- finding cards ----------------------------------------------------------------------------------


def customer_cards(
    session: Session,
    customer_id: int,
    *,
    query: str = "",
    status: str = "",
    driver_id: int | None = None,
    role: str | None = "sub",
) -> list[Card]:
    """A customer's cards, filtered by a search text (number, nickname, driver, plate) and status."""
    return list(session.scalars(card_search(customer_id, query=query, status=status, driver_id=driver_id, role=role)))


def card_search(customer_id: int, *, query: str = "", status: str = "", driver_id: int | None = None,
                role: str | None = "sub"):  # fmt: skip
    """The statement behind `customer_cards`, in number order, for callers that count or page in SQL."""
    stmt = (
        select(Card)
        .outerjoin(Driver, Driver.id == Card.driver_id)
        .outerjoin(Vehicle, Vehicle.id == Card.vehicle_id)
        .where(Card.customer_id == customer_id)
        .order_by(Card.number)
    )
    if role:
        stmt = stmt.where(Card.role == role)
    if status:
        stmt = stmt.where(Card.status == status)
    if driver_id is not None:
        stmt = stmt.where(Card.driver_id == driver_id)
    text = query.strip()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        digits = "".join(text.split())
        stmt = stmt.where(
            or_(
                Card.number.like("%" + digits + "%", escape="\\") if digits.isdigit() else False,
                Card.nickname.like(like, escape="\\"),
                Driver.name.like(like, escape="\\"),
                Vehicle.plate.like(like.upper(), escape="\\"),
            )
        )
    return stmt


def driver_cards(session: Session, driver_id: int) -> list[Card]:
    """The cards assigned to a driver (a driver sees only these), replaced cards last."""
    stmt = select(Card).where(Card.driver_id == driver_id).order_by(Card.status == "closed", Card.number)
    return list(session.scalars(stmt))


def _owned(session: Session, model, id: int | None, customer_id: int):
    if id is None:
        return None
    obj = session.get(model, id)
    if obj is None or obj.customer_id != customer_id:
        raise NotOwned(f"{model.__name__} {id} is not one of this customer's")
    return obj


def assign_card(
    session: Session,
    card: Card,
    *,
    driver_id: int | None,
    vehicle_id: int | None,
    nickname: str,
    actor_id: int | None,
    now: datetime,
) -> Card:
    """Give a card to a driver and/or vehicle and a nickname. Both must be this customer's and active."""
    if card.status == "closed":
        raise CardNotActive("a closed card cannot be assigned")
    driver = _owned(session, Driver, driver_id, card.customer_id)
    vehicle = _owned(session, Vehicle, vehicle_id, card.customer_id)
    if (driver is not None and not driver.active and driver.id != card.driver_id) or (
        vehicle is not None and not vehicle.active and vehicle.id != card.vehicle_id
    ):
        raise NotOwned("inactive drivers and vehicles cannot be given cards")
    before = {"driver_id": card.driver_id, "vehicle_id": card.vehicle_id, "nickname": card.nickname}
    card.driver_id, card.vehicle_id, card.nickname = driver_id, vehicle_id, nickname.strip()[:64]
    after = {"driver_id": card.driver_id, "vehicle_id": card.vehicle_id, "nickname": card.nickname}
    if before != after:
        record(
            session,
            "cards.assign",
            actor_id=actor_id,
            customer_id=card.customer_id,
            detail={"card": card.number, "before": before, "after": after},
            now=now,
        )
    session.flush()
    return card


# --- controls ---------------------------------------------------------------------------------------


def card_controls(session: Session, card_id: int) -> CardControls | None:
    return session.get(CardControls, card_id)


def controls_of(session: Session, card_id: int) -> Controls:
    """The card's controls as a value (no restriction if it has none)."""
    row = session.get(CardControls, card_id)
    return Controls.from_row(row) if row is not None else NO_CONTROLS


def controls_version(session: Session, card_id: int) -> int:
    """The version the chip must hold to be in step (0: the card never had controls set)."""
    row = session.get(CardControls, card_id)
    return row.version if row is not None else 0


def controls_versions(session: Session, card_ids: Iterable[int]) -> dict[int, int]:
    """`controls_version` of many cards in one statement."""
    ids = list(card_ids)
    found = (
        dict(
            session.execute(
                select(CardControls.card_id, CardControls.version).where(CardControls.card_id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    return {card_id: found.get(card_id, 0) for card_id in ids}


def synced_versions(session: Session, card_ids: Iterable[int]) -> dict[int, int | None]:
    """The controls version written to each chip at its last sync (None: never synced), in one statement."""
    ids = list(card_ids)
    if not ids:
        return {}
    latest = (
        select(ChipSync.card_id, func.max(ChipSync.at).label("at"))
        .where(ChipSync.card_id.in_(ids))
        .group_by(ChipSync.card_id)
        .subquery()
    )
    rows = session.execute(
        select(ChipSync.card_id, ChipSync.controls_version)
        .join(latest, (latest.c.card_id == ChipSync.card_id) & (latest.c.at == ChipSync.at))
        .order_by(ChipSync.id)
    ).all()
    found = dict(rows)
    return {card_id: found.get(card_id) for card_id in ids}


def card_numbers(session: Session, card_ids: Iterable[int]) -> dict[int, str]:
    """{card id: number} for these cards, in one statement."""
    ids = list(card_ids)
    return dict(session.execute(select(Card.id, Card.number).where(Card.id.in_(ids))).all()) if ids else {}


def drivers_by_id(session: Session, ids: Iterable[int]) -> list[Driver]:
    ids = list(ids)
    return list(session.scalars(select(Driver).where(Driver.id.in_(ids)))) if ids else []


def vehicles_by_id(session: Session, ids: Iterable[int]) -> list[Vehicle]:
    ids = list(ids)
    return list(session.scalars(select(Vehicle).where(Vehicle.id.in_(ids)))) if ids else []


def controls_for_chip(session: Session, card_id: int) -> tuple[int, Controls]:
    """What the chip sync writes: (version, controls)."""
    row = session.get(CardControls, card_id)
    if row is None:
        return 0, NO_CONTROLS
    return row.version, Controls.from_row(row)


def check_references(session: Session, customer_id: int, controls: Controls) -> None:
    """Shape rules, and every named station, region and product must exist (stations: active)."""
    problems = validate_controls(controls)
    if problems:
        raise InvalidControls("invalid controls", problems=problems)
    if controls.allowed_station_ids:
        found = session.scalar(
            select(func.count())
            .select_from(Station)
            .where(Station.id.in_(controls.allowed_station_ids), Station.active.is_(True))
        )
        if found != len(controls.allowed_station_ids):
            raise NotOwned("unknown or closed station")
    if controls.allowed_region_ids:
        found = session.scalar(
            select(func.count()).select_from(Region).where(Region.id.in_(controls.allowed_region_ids))
        )
        if found != len(controls.allowed_region_ids):
            raise NotOwned("unknown region")
    if controls.allowed_products:
        found = session.scalar(
            select(func.count()).select_from(Product).where(Product.code.in_(controls.allowed_products))
        )
        if found != len(controls.allowed_products):
            raise NotOwned("unknown product")


def lock_card(session: Session, card: Card) -> Card:
    """Re-read the card under a row lock (PostgreSQL; SQLite has one writer), fresh from the database."""
    return session.scalars(
        select(Card).where(Card.id == card.id).with_for_update().execution_options(populate_existing=True)
    ).one()


def set_card_controls(
    session: Session,
    card: Card,
    controls: Controls,
    *,
    actor_id: int | None,
    now: datetime,
    template_id: int | None = None,
    check: bool = True,
) -> CardControls:
    """Replace a card's controls. Only an actual change bumps the version (and needs a sync).

    The card row is locked first, so two changes of one card queue up: each reads the other's
    committed controls, none is lost and each real change gets its own version; the first-ever
    controls row is inserted by whoever holds the lock, never by two at once."""
    card = lock_card(session, card)
    if card.status != "active":
        raise CardNotActive("controls can only be changed on an active card")
    if check:
        check_references(session, card.customer_id, controls)
    row = _locked_controls(session, card.id)
    before = Controls.from_row(row) if row is not None else None
    if row is None:
        row = CardControls(
            card_id=card.id,
            customer_id=card.customer_id,
            version=1,
            updated_at=now,
            updated_by_id=actor_id,
            **controls.as_columns(),
        )
        session.add(row)
    elif before != controls:
        for name, value in controls.as_columns().items():
            setattr(row, name, value)
        row.version += 1
        row.updated_at, row.updated_by_id = now, actor_id
    if before != controls or row.template_id != template_id:
        row.template_id = template_id
        record(
            session,
            "cards.set_controls",
            actor_id=actor_id,
            customer_id=card.customer_id,
            detail={
                "card": card.number,
                "version": row.version,
                "template_id": template_id,
                "before": before.as_columns() if before else None,
                "after": controls.as_columns(),
            },
            now=now,
        )
    session.flush()
    return row


def patch_card_controls(
    session: Session, card: Card, change: Callable[[Controls], Controls], *, actor_id: int | None, now: datetime
) -> CardControls:
    """`set_card_controls` with `change(current controls)`, the current ones read under the card's
    lock: two partial changes at once both land (neither overwrites the other with stale values)."""
    card = lock_card(session, card)
    current = Controls.from_row(row) if (row := _locked_controls(session, card.id)) is not None else NO_CONTROLS
    return set_card_controls(session, card, change(current), actor_id=actor_id, now=now)


def _locked_controls(session: Session, card_id: int) -> CardControls | None:
    """The card's controls row fresh from the database (after `lock_card`), or None."""
    return session.get(CardControls, card_id, populate_existing=True, with_for_update=True)


# --- templates --------------------------------------------------------------------------------------


def customer_templates(session: Session, customer_id: int) -> list[ControlTemplate]:
    stmt = select(ControlTemplate).where(ControlTemplate.customer_id == customer_id).order_by(ControlTemplate.name)
    return list(session.scalars(stmt))


def save_template(
    session: Session,
    customer_id: int,
    name: str,
    controls: Controls,
    *,
    actor_id: int | None,
    now: datetime,
    template: ControlTemplate | None = None,
) -> ControlTemplate:
    """Create a template, or update `template`. Cards it was applied to keep their controls."""
    name = name.strip()
    check_references(session, customer_id, controls)
    clash = session.scalar(
        select(ControlTemplate).where(ControlTemplate.customer_id == customer_id, ControlTemplate.name == name)
    )
    if clash is not None and clash is not template:
        raise DuplicateName("a template with this name exists")
    session.flush()  # what the caller changed before goes in outside the savepoint
    try:
        with session.begin_nested():  # a name taken by a request running at the same time
            if template is None:
                template = ControlTemplate(customer_id=customer_id, created_at=now)
                session.add(template)
            template.name, template.updated_at = name, now
            for column, value in controls.as_columns().items():
                setattr(template, column, value)
    except IntegrityError as error:
        if "name" not in str(error.orig):
            raise
        raise DuplicateName("a template with this name exists") from None
    record(
        session,
        "cards.save_template",
        actor_id=actor_id,
        customer_id=customer_id,
        detail={"template_id": template.id, "name": name, "controls": controls.as_columns()},
        now=now,
    )
    return template


def apply_template(
    session: Session,
    template: ControlTemplate,
    cards: Iterable[Card],
    *,
    actor_id: int | None,
    now: datetime,
) -> int:
    """Give every card the template's controls (one audit event per card). Returns how many changed
    version. All cards must be active cards of the template's customer; otherwise nothing changes."""
    # lock in one order (by id), so two applications over overlapping cards cannot deadlock
    cards = [lock_card(session, card) for card in sorted(cards, key=lambda card: card.id)]
    for card in cards:
        if card.customer_id != template.customer_id:
            raise NotOwned(f"card {card.number} is not one of this customer's")
        if card.status != "active":
            raise CardNotActive(f"card {card.number} is not active", number=card.number)
    controls = Controls.from_row(template)
    check_references(session, template.customer_id, controls)
    changed = 0
    for card in cards:
        before = row.version if (row := _locked_controls(session, card.id)) is not None else 0
        row = set_card_controls(
            session, card, controls, actor_id=actor_id, now=now, template_id=template.id, check=False
        )
        changed += row.version != before
    return changed


def cards_behind_template(session: Session, template: ControlTemplate) -> list[Card]:
    """Active cards the template was applied to whose limits are not the template's any more (the
    template was changed since): they keep the old values until the template is applied again."""
    wanted = Controls.from_row(template)
    rows = session.execute(
        select(Card, CardControls)
        .join(CardControls, CardControls.card_id == Card.id)
        .where(CardControls.template_id == template.id, Card.status == "active")
        .order_by(Card.number)
    ).all()
    return [card for card, row in rows if Controls.from_row(row) != wanted]


def template_card_numbers(session: Session, template: ControlTemplate) -> list[str]:
    """Numbers of the cards that got their limits from this template (and kept them since)."""
    stmt = (
        select(Card.number)
        .join(CardControls, CardControls.card_id == Card.id)
        .where(CardControls.template_id == template.id)
        .order_by(Card.number)
    )
    return list(session.scalars(stmt))


def delete_template(session: Session, template: ControlTemplate, *, actor_id: int | None, now: datetime) -> None:
    """Remove a template; cards keep the controls it gave them."""
    for row in session.scalars(select(CardControls).where(CardControls.template_id == template.id)):
        row.template_id = None
    record(
        session,
        "cards.delete_template",
        actor_id=actor_id,
        customer_id=template.customer_id,
        detail={"template_id": template.id, "name": template.name},
        now=now,
    )
    session.delete(template)
    session.flush()
