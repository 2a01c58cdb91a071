"""Issue #12, smaller defects: registration step 2 asks for the code first and says where it was sent
(masked); an expired password lands on the change page, which says it expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.auth.codes import masked_contact
from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(db, clock):
    return db(lambda s: auth_customers(s, clock.now()))


def _start_registration(client, world, contact):
    return client.post(
        "/auth/register",
        data={"card_number": world.main_card_a, "credit_code": world.credit_code_a, "contact": contact,
              "csrf_token": csrf_token(client, "/auth/register")},
    )  # fmt: skip


def test_step_two_names_the_masked_phone_and_asks_for_the_code_first(client, world):
    assert _start_registration(client, world, world.phone_a).status_code == 302
    page = client.get("/auth/register/account").get_data(as_text=True)
    assert "139****0001" in page and world.phone_a not in page
    assert "我们已将 6 位验证码发送至 139****0001" in page
    positions = [page.index(f'name="{name}"') for name in ("code", "username", "new_password", "confirm")]
    assert positions == sorted(positions)
    assert page.index('name="code"') < page.index('type="password"')


def test_step_two_names_the_masked_address_when_the_code_went_by_mail(client, world):
    assert _start_registration(client, world, world.email_a).status_code == 302
    page = client.get("/auth/register/account").get_data(as_text=True)
    assert "f***@example.cn" in page and world.email_a not in page


def test_step_two_without_a_pending_code_goes_back_to_step_one(client, world):
    response = client.get("/auth/register/account")
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/register")


@pytest.mark.parametrize(
    ("contact", "shown"),
    [("13812341234", "138****1234"), ("+86 138 1234 1234", "138****1234"), ("010-6521 8890", "010****8890"),
     ("zhang.san@example.cn", "z***@example.cn"), ("123", "****23")],
)  # fmt: skip
def test_masked_contact(contact, shown):
    assert masked_contact(contact) == shown


def test_an_expired_password_lands_on_the_change_page_that_says_so(client, db, clock):
    db(lambda s: add_user(s, "alice", "sysadmin", clock.now()))
    clock.advance(timedelta(days=91))
    login(client, "alice", PASSWORD)
    response = client.get("/", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == "/auth/password"
    assert 'data-testid="password-expired"' in page and "您的密码已过期" in page and "90" in page


def test_a_password_that_has_not_expired_is_not_called_expired(client, db, clock):
    db(lambda s: add_user(s, "alice", "sysadmin", clock.now()))
    clock.advance(timedelta(days=89))
    login(client, "alice", PASSWORD)
    page = client.get("/auth/password").get_data(as_text=True)
    assert 'data-testid="password-expired"' not in page
