"""Confirmation before money moves and destructive actions, on the server (issue #12): a staff
deposit is previewed (customer, amount in words and figures, reference) and recorded only with the
password re-entered; a staff password reset and a terminal revoke each have a confirm step naming
what they act on. A POST that skips the confirmation does nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.auth.models import User
from portal.funds.models import Deposit
from portal.stations.models import Terminal
from tests.builders import PASSWORD, auth_customers, funds_customers, station_setup, unit_balance
from tests.builders import create_user as add_user
from tests.conftest import T0
from tests.web.conftest import count, csrf_token, peek, signed_in

# -- staff deposit -------------------------------------------------------------------------------


@pytest.fixture
def funds(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def _deposit_form(client, w, **changes):
    page = client.get("/funds/deposits").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    data = {"csrf_token": csrf_token(client, "/funds/deposits"), "key": key, "customer_id": w.b,
            "amount": "12,345.60", "bank_reference": "ICBC-20260302-01", "memo": "三月"}  # fmt: skip
    return {**data, **changes}


def test_a_deposit_is_previewed_in_words_and_figures_and_recorded_only_with_the_password(client, session, funds):
    w = funds
    signed_in(client, "staff_r1")
    data = _deposit_form(client, w)
    preview = client.post("/funds/deposits", data=data)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "乙运输有限公司" in page and "¥12,345.60" in page and "ICBC-20260302-01" in page
    assert "壹万贰仟叁佰肆拾伍元陆角" in page
    assert f'value="{data["key"]}"' in page  # the idempotency key carried through
    assert count(session, session.query(Deposit)) == 0 and peek(session, lambda: unit_balance(session, w.b)) == 0

    confirm = {**data, "csrf_token": csrf_token(client, "/funds/deposits")}
    # Skipping the password (a POST straight to the confirmation) records nothing.
    missing = client.post("/funds/deposits/confirm", data=confirm)
    assert missing.status_code == 422 and "壹万贰仟叁佰肆拾伍元陆角" in missing.get_data(as_text=True)
    wrong = client.post("/funds/deposits/confirm", data={**confirm, "password": "not-it-at-all"})
    assert wrong.status_code == 422 and "密码不正确" in wrong.get_data(as_text=True)
    assert count(session, session.query(Deposit)) == 0

    done = client.post("/funds/deposits/confirm", data={**confirm, "password": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/funds/deposits")
    again = client.post("/funds/deposits/confirm", data={**confirm, "password": PASSWORD})  # double submit
    assert again.status_code == 302
    deposits = peek(session, lambda: session.scalars(select(Deposit)).all())
    assert [(d.key, d.amount, d.bank_reference) for d in deposits] == [(data["key"], 1_234_560, "ICBC-20260302-01")]
    assert peek(session, lambda: unit_balance(session, w.b)) == 1_234_560


def test_the_deposit_preview_in_english_spells_the_amount(client, session, funds):
    signed_in(client, "staff_r1")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client, "/funds/deposits")})
    page = client.post("/funds/deposits", data=_deposit_form(client, funds, amount="5000")).get_data(as_text=True)
    assert "Five thousand yuan" in page and "¥5,000.00" in page


def test_a_confirmation_for_another_regions_customer_is_refused(client, session, funds):
    signed_in(client, "staff_r1")
    data = {**_deposit_form(client, funds, customer_id=funds.c), "password": PASSWORD}
    assert client.post("/funds/deposits/confirm", data=data).status_code == 422
    assert count(session, session.query(Deposit)) == 0


def test_a_refused_deposit_shows_the_reason_on_the_preview(client, session, funds):
    signed_in(client, "staff_r1")
    first = {**_deposit_form(client, funds), "password": PASSWORD}
    assert client.post("/funds/deposits/confirm", data=first).status_code == 302
    second = {**_deposit_form(client, funds, amount="1"), "password": PASSWORD}  # same bank reference
    refused = client.post("/funds/deposits/confirm", data=second)
    assert refused.status_code == 409 and 'data-testid="errors"' in refused.get_data(as_text=True)
    assert count(session, session.query(Deposit)) == 1


# -- staff password reset -------------------------------------------------------------------------


@pytest.fixture
def support(db, clock):
    def build(s):
        world = auth_customers(s, clock.now())
        add_user(s, "staff_a", "staff", clock.now(), region_id=world.region_a)
        add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a, display_name="王建国")
        return world

    return db(build)


def _password_hash(db, name):
    return db(lambda s: s.scalar(select(User.password_hash).where(User.username == name)))


def _user_id(db, name):
    return db(lambda s: s.scalar(select(User.id).where(User.username == name)))


def test_a_staff_password_reset_asks_first_naming_the_user(client, db, support):
    signed_in(client, "staff_a")
    user_id, before = _user_id(db, "fleet_a"), _password_hash(db, "fleet_a")
    ask = client.get(f"/support/users/{user_id}/reset-password")
    page = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "fleet_a" in page and "王建国" in page and "北京测试物流" in page

    token = csrf_token(client, f"/support/users/{user_id}")
    skipped = client.post(f"/support/users/{user_id}/reset-password", data={"csrf_token": token})
    assert skipped.status_code == 200 and 'data-testid="confirm-reset"' in skipped.get_data(as_text=True)
    assert _password_hash(db, "fleet_a") == before
    assert db(lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "support.reset_password")).all()) == []

    done = client.post(f"/support/users/{user_id}/reset-password", data={"csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 200 and 'data-testid="temporary-password"' in done.get_data(as_text=True)
    assert _password_hash(db, "fleet_a") != before


# -- terminal revoke ------------------------------------------------------------------------------


@pytest.fixture
def terminals(db):
    def build(s):
        world = station_setup(s, now=T0)
        add_user(s, "root", "sysadmin", T0)
        return world.terminal.id

    return db(build)


def _revoked_at(db, terminal_id):
    return db(lambda s: s.get(Terminal, terminal_id).revoked_at)


def test_a_terminal_revoke_asks_first_naming_the_terminal_and_station(client, db, terminals):
    signed_in(client, "root")
    ask = client.get(f"/admin/terminals/{terminals}/revoke")
    page = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "pump 1" in page and "ST110001" in page and "北京朝阳路加油站" in page

    token = csrf_token(client, "/admin/terminals")
    skipped = client.post(f"/admin/terminals/{terminals}/revoke", data={"csrf_token": token})
    assert skipped.status_code == 200 and 'data-testid="confirm-revoke"' in skipped.get_data(as_text=True)
    assert _revoked_at(db, terminals) is None

    done = client.post(f"/admin/terminals/{terminals}/revoke", data={"csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 200 and _revoked_at(db, terminals) is not None


def test_revoking_an_unknown_terminal_is_a_404(client, db, terminals):
    signed_in(client, "root")
    assert client.get("/admin/terminals/999/revoke").status_code == 404
