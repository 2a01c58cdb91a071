"""Loss over the API: report a card lost, cancel the report (解挂) and replace the card (补卡), through
the loss rules the loss pages call (portal.cards.loss), and the customer's loss reports.

A key holder is a machine: the password re-entry the pages ask for before a cancel or a replacement
is the key's `cards` scope; the business checks (states, the 24 h effect and 7-day wait, loads in
flight) are the same. A replacement moves money: it needs an `Idempotency-Key` (the same key gives
the same new card, also for two copies at once).
"""

from __future__ import annotations

from typing import Literal

from flask import current_app, g
from pydantic import BaseModel, Field
from sqlalchemy import tuple_

from portal.api import bp
from portal.api.auth import api_actor_id, api_audit, api_endpoint
from portal.api.cards import NO_NUL, CardOut, EmptyIn, Strict, card_by_number, card_out
from portal.api.idempotency import service_key
from portal.api.pagination import NEXT_CURSOR, PageQuery, keyset_page
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Time, local_time
from portal.cards import loss, services
from portal.cards.models import LOSS_REASONS, Card, LossReport
from portal.extensions import client_ip, clock, db
from portal.queries.cursor import Key

REPORT = "api.loss_reports"


class LossIn(Strict):
    reason: Literal[LOSS_REASONS]  # type: ignore[valid-type]
    note: str = Field("", max_length=256, pattern=NO_NUL)


class LossReportOut(BaseModel):
    id: int
    card_number: str
    status: Literal["open", "cancelled", "replaced"]
    reason: str
    note: str
    reported_at: Time
    effective_at: Time = Field(description="from then on no purchase is accepted, offline or not")
    replaceable_from: Time = Field(description="the card may be replaced from then on")
    cancelled_at: Time | None
    replaced_at: Time | None
    replacement_card_number: str | None


class LossReportList(BaseModel):
    data: list[LossReportOut]
    next_cursor: str | None = NEXT_CURSOR


def _reports_out(reports: list[LossReport]) -> list[LossReportOut]:
    """The answers for `reports`, in a fixed number of statements whatever their number."""
    numbers = services.card_numbers(
        db.session, ({r.card_id for r in reports} | {r.replacement_card_id for r in reports}) - {None}
    )
    return [_report_out(report, numbers) for report in reports]


def _report_out(report: LossReport, numbers: dict[int, str] | None = None) -> LossReportOut:
    if numbers is None:
        numbers = services.card_numbers(db.session, {report.card_id, report.replacement_card_id} - {None})
    return LossReportOut(
        id=report.id,
        card_number=numbers[report.card_id],
        status=report.status,
        reason=report.reason,
        note=report.note,
        reported_at=local_time(report.reported_at),
        effective_at=local_time(report.effective_at),
        replaceable_from=local_time(report.replaceable_from),
        cancelled_at=local_time(report.cancelled_at),
        replaced_at=local_time(report.replaced_at),
        replacement_card_number=numbers.get(report.replacement_card_id),
    )


@bp.get("/loss-reports")
@api_endpoint("read", query=PageQuery, resp={200: LossReportList}, tags=["cards"])
def list_loss_reports(query: PageQuery):
    """The customer's loss reports, newest first (as on the loss page, whose open ones come first)."""
    stmt = loss.report_search(g.api_customer_id).order_by(LossReport.reported_at.desc(), LossReport.id.desc())
    page = keyset_page(
        db.session, stmt, query, report=REPORT, key=lambda r: Key(r.reported_at, r.id),
        after=lambda key: tuple_(LossReport.reported_at, LossReport.id) < tuple_(key.at, int(key.id)),
    )  # fmt: skip
    return LossReportList(data=_reports_out(page.rows), next_cursor=page.next_cursor)


@bp.get("/cards/<card_number>/loss")
@api_endpoint("read", resp={200: LossReportOut, 404: Problem}, tags=["cards"])
def get_loss_report(card_number: str):
    """The card's latest loss report (404 `loss_report_not_found` if it was never reported lost)."""
    return _report_out(_latest_report(card_by_number(card_number, main_too=True)))


@bp.post("/cards/<card_number>/loss")
@api_endpoint("cards", json=LossIn, resp={201: LossReportOut, 404: Problem, 409: Problem}, tags=["cards"])
def report_loss(card_number: str, json: LossIn):
    """Report the card lost: blocked at once, fully effective after LOSS_EFFECT_HOURS."""
    card = card_by_number(card_number, main_too=True)
    report = loss.report_loss(
        db.session, card, reason=json.reason, note=json.note, actor_id=api_actor_id(), now=clock().now(),
        policy=_policy(), ip=client_ip(),
    )  # fmt: skip
    api_audit("cards.report_loss", {"card": card.number, "report_id": report.id})
    return _report_out(report), 201


@bp.post("/cards/<card_number>/loss/cancel")
@api_endpoint("cards", json=EmptyIn, resp={200: LossReportOut, 404: Problem, 409: Problem}, tags=["cards"])
def cancel_loss(card_number: str):
    """解挂: cancel the card's open loss report; the card is active again (only before a replacement)."""
    card = card_by_number(card_number, main_too=True)
    report = loss.cancel_loss(
        db.session, _latest_report(card), actor_id=api_actor_id(), now=clock().now(), password_confirmed=True,
        ip=client_ip(),
    )  # fmt: skip
    api_audit("cards.cancel_loss", {"card": card.number, "report_id": report.id})
    return _report_out(report)


@bp.post("/cards/<card_number>/replace")
@api_endpoint("cards", json=EmptyIn, resp={201: CardOut, 404: Problem, 409: Problem}, tags=["cards"], idempotent=True)
def replace_card(card_number: str):
    """补卡: a new card takes over the lost card's reserve, chip balance, points and controls; the old
    card closes. Needs an open loss report past its replacement wait. Answers the new card."""
    card = card_by_number(card_number, main_too=True)
    new = loss.replace_card(
        db.session, _latest_report(card), actor_id=api_actor_id(), now=clock().now(), password_confirmed=True,
        idempotency_key=service_key(), ip=client_ip(),
    )  # fmt: skip
    api_audit("cards.replace", {"card": card.number, "new_card": new.number})
    return card_out([new])[0], 201


def _policy() -> loss.LossPolicy:
    return loss.LossPolicy.from_config(current_app.config)


def _latest_report(card: Card) -> LossReport:
    report = db.session.scalar(
        loss.report_search(card.customer_id, card_ids=[card.id])
        .order_by(LossReport.reported_at.desc(), LossReport.id.desc())
        .limit(1)
    )
    if report is None:
        raise ApiProblem(404, "loss_report_not_found", "this card was never reported lost")
    return report
