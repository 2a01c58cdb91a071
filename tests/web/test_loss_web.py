"""Loss reporting through the web: report, timers, cancel with password re-entry, replace once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.web.filters import card_number
from tests.builders import PASSWORD, fund_card
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(fleet_ids):
    return fleet_ids


def _card(app, card_id):
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        return db.session.get(Card, card_id)


def _report(client, card_id, reason="lost", note=""):
    token = csrf_token(client, "/cards/loss")
    return client.post(
        "/cards/loss/report", data={"card_id": card_id, "reason": reason, "note": note, "csrf_token": token}
    )


def test_admin_reports_a_card_and_sees_the_timers(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    page = client.get("/cards/loss").get_data(as_text=True)
    assert 'data-testid="report-form"' in page
    response = _report(client, one.cards[0], note="在加油站丢失")
    assert response.status_code == 302
    assert _card(app, one.cards[0]).status == "lost"
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    # T0 is 10:00 in Shanghai on 2 March 2026: full effect a day later, replacement a week later.
    assert "2026" in detail and 'data-testid="effective-at"' in detail and 'data-testid="replaceable-from"' in detail
    assert re.search(r'effective-at">[^<]*3[^<]*10:00', detail)
    assert "在加油站丢失" in detail
    assert "/cancel" in detail and "/replace" not in detail  # replacement only after 7 days


def test_reporting_again_or_a_bad_reason_is_refused(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    assert _report(client, one.cards[0]).status_code == 302
    again = _report(client, one.cards[0])
    assert again.status_code == 409
    assert "already reported" in again.get_data(as_text=True) or "已挂失" in again.get_data(as_text=True)
    assert _report(client, one.cards[1], reason="bored").status_code == 422
    assert _report(client, one.cards[1], note="x" * 300).status_code == 422
    assert _card(app, one.cards[1]).status == "active"


@pytest.mark.parametrize("card_id", ["²", "١٢", str(2**63), "1e3", "-1"])
def test_a_card_id_that_is_no_id_is_refused_not_a_500(app, client, world, card_id):
    one, _ = world
    login(client, one.admin, PASSWORD)
    assert _report(client, card_id).status_code in (404, 422)
    assert all(_card(app, card).status == "active" for card in one.cards)


def test_a_driver_reports_their_own_card(app, client, world):
    one, _ = world
    login(client, one.driver_user, PASSWORD)
    page = client.get("/cards/loss").get_data(as_text=True)
    assert card_number(_card(app, one.cards[0]).number) in page
    assert card_number(_card(app, one.cards[1]).number) not in page
    response = _report(client, one.cards[0], reason="stolen")
    assert response.status_code == 302
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "/cancel" not in detail  # only an admin cancels
    mine = client.get("/cards/mine").get_data(as_text=True)
    assert "badge-lost" in mine


def _confirm_password(client, password=PASSWORD):
    token = csrf_token(client, "/")
    return client.post("/auth/confirm-password", data={"password": password, "csrf_token": token})


def test_cancel_needs_a_recent_password(app, client, clock, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    location = _report(client, one.cards[0]).headers["Location"]
    report_id = int(location.rsplit("/", 1)[1])
    clock.advance(timedelta(minutes=10))  # the sign-in no longer counts as a recent password entry
    page = client.get(f"/cards/loss/{report_id}/cancel")
    assert page.status_code == 302 and "/auth/confirm" in page.headers["Location"]
    token = csrf_token(client, "/")
    refused = client.post(f"/cards/loss/{report_id}/cancel", data={"csrf_token": token})
    assert refused.status_code == 302 and "/auth/confirm" in refused.headers["Location"]
    assert _card(app, one.cards[0]).status == "lost"
    _confirm_password(client)
    assert client.get(f"/cards/loss/{report_id}/cancel").status_code == 200
    done = client.post(f"/cards/loss/{report_id}/cancel", data={"csrf_token": csrf_token(client, "/")})
    assert done.status_code == 302
    assert _card(app, one.cards[0]).status == "active"
    again = client.post(f"/cards/loss/{report_id}/cancel", data={"csrf_token": csrf_token(client, "/")})
    assert again.status_code == 409


def test_replacement_waits_seven_days_then_happens_once(app, client, clock, world):
    from portal import ledger
    from portal.cards.models import Card, LossReport
    from portal.extensions import db

    one, _ = world
    with app.app_context():
        from portal.cards.models import Card as C

        card = db.session.get(C, one.cards[0])
        fund_card(db.session, card, reserve=300_00, purse=45_67, now=clock.now())
        db.session.commit()
    login(client, one.admin, PASSWORD)
    report_id = int(_report(client, one.cards[0]).headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/cards/loss/{report_id}/replace").get_data(as_text=True)
    assert 'name="idempotency_key"' not in page  # no replace button before its time
    key = "a" * 32
    early = client.post(
        f"/cards/loss/{report_id}/replace", data={"idempotency_key": key, "csrf_token": csrf_token(client, "/")}
    )
    assert early.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Card)) == 6

    clock.advance(timedelta(days=7))
    login(client, one.admin, PASSWORD)  # the old session timed out meanwhile
    page = client.get(f"/cards/loss/{report_id}/replace").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    assert (
        client.post(f"/cards/loss/{report_id}/replace", data={"csrf_token": csrf_token(client, "/")}).status_code == 400
    )
    token = csrf_token(client, "/")
    first = client.post(f"/cards/loss/{report_id}/replace", data={"idempotency_key": key, "csrf_token": token})
    second = client.post(f"/cards/loss/{report_id}/replace", data={"idempotency_key": key, "csrf_token": token})
    assert first.status_code == second.status_code == 302
    with app.app_context():
        report = db.session.get(LossReport, report_id)
        new = db.session.get(Card, report.replacement_card_id)
        assert report.status == "replaced" and db.session.get(Card, one.cards[0]).status == "closed"
        assert ledger.balance(ledger.card_account(db.session, new.id, "reserve")) == 300_00
        assert ledger.balance(ledger.card_account(db.session, new.id, "purse")) == 45_67
        assert (
            db.session.scalar(
                select(func.count()).select_from(ledger.Transfer).where(ledger.Transfer.code == "replacement")
            )
            == 2
        )
        new_number = new.number
    detail = client.get(f"/cards/loss/{report_id}").get_data(as_text=True)
    assert 'data-testid="replacement"' in detail and new_number[-4:] in detail
    other_key = client.post(
        f"/cards/loss/{report_id}/replace", data={"idempotency_key": "b" * 32, "csrf_token": csrf_token(client, "/")}
    )
    assert other_key.status_code == 409


def test_loss_pages_show_in_english(app, client, world):
    one, _ = world
    client.set_cookie("lang", "en")
    login(client, one.admin, PASSWORD)
    location = _report(client, one.cards[0]).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "Takes full effect at" in page and "Replacement possible from" in page


def test_periods_come_from_the_app_config(app, client, clock, world):
    from portal.cards.models import LossReport
    from portal.extensions import db

    app.config.update(LOSS_EFFECT_HOURS=2, REPLACEMENT_DAYS=1)
    one, _ = world
    login(client, one.admin, PASSWORD)
    report_id = int(_report(client, one.cards[0]).headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        report = db.session.get(LossReport, report_id)
        assert report.effective_at - report.reported_at == timedelta(hours=2)
        assert report.replaceable_from - report.reported_at == timedelta(days=1)
    clock.advance(timedelta(days=1))
    login(client, one.admin, PASSWORD)
    assert 'name="idempotency_key"' in client.get(f"/cards/loss/{report_id}/replace").get_data(as_text=True)
