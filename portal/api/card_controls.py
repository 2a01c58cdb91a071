"""Card controls and control templates over the API, with the controls page's rules.

- `GET/PATCH /cards/{number}/controls`: read and change one card's limits. A PATCH names only the
  limits it changes (null lifts one); the result is checked by the same service the controls page
  calls (portal.cards.services.set_card_controls: an active card, known stations/regions/products,
  at most 10 stations, well-formed hours), and only a real change bumps the version the chip sync
  compares ("pending sync" until then).
- `GET /control-templates`, `POST /control-templates/{id}/apply`: the customer's templates, and
  applying one to many active cards at once (portal.cards.services.apply_template: all or nothing).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from flask import g
from pydantic import BaseModel, Field, StrictInt

from portal.api import bp
from portal.api.auth import api_actor_id, api_audit, api_endpoint, owned_or_404
from portal.api.cards import MAX_ID, NO_NUL, Strict, card_by_number, cards_by_numbers
from portal.api.pagination import NEXT_CURSOR
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Count, Fen, Time, local_time
from portal.cards import services
from portal.cards.controls import MAX_ALLOWED_STATIONS, Controls, format_hours, normalize_plate, parse_hours
from portal.cards.errors import InvalidControls
from portal.cards.models import ControlTemplate
from portal.extensions import clock, db
from portal.money import MAX_FEN, MAX_ML

#: The most purchases a day a control may allow (as the controls form).
MAX_DAILY_COUNT = 1000
#: The most cards one apply request may name.
MAX_APPLY_CARDS = 1000

Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class ControlValues(BaseModel):
    """Limits; null / empty means no restriction for that rule."""

    per_purchase_limit_fen: Fen | None = Field(description="amount per purchase at most")
    daily_amount_limit_fen: Fen | None = Field(description="amount per business day at most")
    daily_count_limit: int | None = Field(description="purchases per business day at most")
    daily_litres_limit_ml: int | None = Field(description="millilitres per business day at most")
    allowed_products: list[str] = Field(description="product codes; empty: any")
    allowed_region_ids: list[int] = Field(description="region ids; empty: any")
    allowed_station_ids: list[int] = Field(description="station ids; empty: any")
    plate_lock: str = Field(description="only for this plate; empty: any vehicle")
    hours: str | None = Field(description="allowed hours, Beijing time, e.g. 06:00-22:00; null: any time")


class CardControlsOut(ControlValues):
    card_number: str
    version: int = Field(description="the controls' version (0: never set); the chip must hold it")
    synced_version: int | None = Field(description="the version written to the chip at its last sync")
    pending_sync: bool = Field(description="the chip does not hold these controls yet")
    template_id: int | None = Field(description="the template they came from, if any")
    updated_at: Time | None


class ControlsPatch(Strict):
    """The limits to change; a field left out keeps its value, null (or an empty list) lifts it."""

    per_purchase_limit_fen: Fen | None = Field(None, ge=1, le=MAX_FEN)
    daily_amount_limit_fen: Fen | None = Field(None, ge=1, le=MAX_FEN)
    daily_count_limit: Count | None = Field(None, ge=1, le=MAX_DAILY_COUNT)
    daily_litres_limit_ml: Count | None = Field(None, ge=1, le=MAX_ML)
    allowed_products: list[Annotated[str, Field(max_length=16, pattern=NO_NUL)]] | None = Field(None, max_length=50)
    allowed_region_ids: list[Id] | None = Field(None, max_length=100)
    allowed_station_ids: list[Id] | None = Field(None, max_length=MAX_ALLOWED_STATIONS)
    plate_lock: str | None = Field(None, max_length=16, pattern=NO_NUL)
    hours: str | None = Field(
        None, max_length=20, pattern=NO_NUL, description="HH:MM-HH:MM, Beijing time; null: any time"
    )


class TemplateOut(ControlValues):
    id: int
    name: str
    updated_at: Time
    card_numbers: list[str] = Field(description="cards that got their limits from this template")


class TemplateList(BaseModel):
    data: list[TemplateOut]
    next_cursor: str | None = NEXT_CURSOR


class ApplyTemplateIn(Strict):
    card_numbers: list[Annotated[str, Field(max_length=19, pattern=NO_NUL)]] = Field(
        min_length=1, max_length=MAX_APPLY_CARDS, description="numbers of the customer's active cards"
    )


class ApplyTemplateOut(BaseModel):
    template_id: int
    applied: int = Field(description="cards given the template's controls")
    changed: int = Field(description="of those, cards whose controls changed (they need a sync)")


def _values(controls: Controls) -> dict:
    columns = controls.as_columns()
    hours = format_hours(columns.pop("hours_start_min"), columns.pop("hours_end_min"))
    return {**columns, "hours": hours or None}


def _controls_out(card) -> CardControlsOut:
    row = services.card_controls(db.session, card.id)
    version = row.version if row is not None else 0
    synced = services.synced_versions(db.session, [card.id])[card.id]
    return CardControlsOut(
        card_number=card.number,
        **_values(services.controls_of(db.session, card.id)),
        version=version,
        synced_version=synced,
        pending_sync=version > 0 and synced != version,
        template_id=row.template_id if row is not None else None,
        updated_at=local_time(row.updated_at) if row is not None else None,
    )


def _patched(current: Controls, patch: ControlsPatch) -> Controls:
    """The card's controls with the PATCH's fields applied (hours and plate read as the form reads them)."""
    changes = {name: getattr(patch, name) for name in patch.model_fields_set}
    for name in ("allowed_products", "allowed_region_ids", "allowed_station_ids"):
        if name in changes:
            changes[name] = tuple(changes[name] or ())
    if "plate_lock" in changes:
        changes["plate_lock"] = normalize_plate(changes["plate_lock"] or "")
    if "hours" in changes:
        try:
            hours = parse_hours(changes.pop("hours") or "")
        except ValueError as error:
            raise ApiProblem(
                422, "validation_failed", "the request has invalid fields",
                errors=[{"field": "body.hours", "message": f"write the hours like 06:00-22:00 ({error})"}],
            ) from None  # fmt: skip
        changes["hours_start_min"], changes["hours_end_min"] = hours or (None, None)
    return replace(current, **changes)


@bp.get("/cards/<card_number>/controls")
@api_endpoint("read", resp={200: CardControlsOut, 404: Problem}, tags=["cards"])
def get_controls(card_number: str):
    """The card's controls, their version and whether the chip holds them yet."""
    return _controls_out(card_by_number(card_number))


@bp.patch("/cards/<card_number>/controls")
@api_endpoint("cards", json=ControlsPatch, resp={200: CardControlsOut, 404: Problem, 409: Problem}, tags=["cards"])
def update_controls(card_number: str, json: ControlsPatch):
    """Change the card's limits (an active card only); they reach the chip at its next sync."""
    card = card_by_number(card_number)
    try:
        row = services.patch_card_controls(
            db.session, card, lambda current: _patched(current, json), actor_id=api_actor_id(), now=clock().now()
        )
    except InvalidControls as error:
        raise ApiProblem(
            422, "invalid_controls", "these controls are not valid",
            errors=[{"field": f"body.{p.field}", "message": p.code} for p in error.detail.get("problems", ())],
        ) from None  # fmt: skip
    api_audit("cards.set_controls", {"card": card.number, "version": row.version})
    return _controls_out(card)


@bp.get("/control-templates")
@api_endpoint("read", resp={200: TemplateList}, tags=["cards"])
def list_templates():
    """The customer's control templates by name (one page: a customer has a handful)."""
    templates = services.customer_templates(db.session, g.api_customer_id)
    return TemplateList(data=[_template_out(t) for t in templates], next_cursor=None)


def _template_out(template: ControlTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        name=template.name,
        updated_at=local_time(template.updated_at),
        card_numbers=services.template_card_numbers(db.session, template),
        **_values(Controls.from_row(template)),
    )


@bp.post("/control-templates/<int:template_id>/apply")
@api_endpoint("cards", json=ApplyTemplateIn, resp={200: ApplyTemplateOut, 404: Problem, 409: Problem}, tags=["cards"])
def apply_template(template_id: int, json: ApplyTemplateIn):
    """Give the named active cards the template's controls, all or none (a lost or closed card: 409)."""
    template = _template(template_id)
    cards = cards_by_numbers(json.card_numbers)
    changed = services.apply_template(db.session, template, cards, actor_id=api_actor_id(), now=clock().now())
    api_audit("cards.apply_template", {"template_id": template.id, "cards": [c.number for c in cards]})
    return ApplyTemplateOut(template_id=template.id, applied=len(cards), changed=changed)


@bp.get("/control-templates/<int:template_id>")
@api_endpoint("read", resp={200: TemplateOut, 404: Problem}, tags=["cards"])
def get_template(template_id: int):
    """One control template of the customer and the cards it was applied to."""
    return _template_out(_template(template_id))


def _template(template_id: int) -> ControlTemplate:
    return owned_or_404(
        ControlTemplate, template_id if template_id <= MAX_ID else 0, "template_not_found", "control template"
    )
