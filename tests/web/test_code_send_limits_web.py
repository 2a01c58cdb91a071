"""Send limits through the web: 8 registration codes or reset links asked for one phone from 8
addresses in a minute; registration says so with a 429, recovery answers as for an unknown account."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import csrf_token, login

ADDRESSES = [f"198.51.100.{i}" for i in range(1, 9)]


@pytest.fixture
def world(db, clock):
    def build(s):
        world = auth_customers(s, clock.now())
        add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a, phone=world.phone_a)
        add_user(s, "bj_support", "staff", clock.now(), region_id=world.region_a)
        return world

    return db(build)


def sent_to(db, recipient):
    from portal.notify.models import OutboxMessage

    return db(lambda s: s.scalar(select(func.count()).where(OutboxMessage.recipient == recipient)))


def audited(db, action):
    from portal.audit.models import AuditEvent

    return db(lambda s: s.scalar(select(func.count()).where(AuditEvent.action == action)))


def test_registration_codes_to_one_phone_from_8_addresses_stop_at_5_with_a_429(client, db, world):
    statuses = []
    for ip in ADDRESSES:
        token = csrf_token(client, "/auth/register")
        data = {"card_number": world.main_card_a, "credit_code": world.credit_code_a, "contact": world.phone_a,
                "csrf_token": token}  # fmt: skip
        statuses.append(client.post("/auth/register", data=data, environ_base={"REMOTE_ADDR": ip}))
    assert [r.status_code for r in statuses] == [302] * 5 + [429] * 3
    refused = statuses[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    text = refused.get_data(as_text=True)
    assert "验证码或链接次数过多" in text and "2026-03-02 11:00" in text  # T0 is 10:00 in Shanghai: an hour later
    assert sent_to(db, world.phone_a) == 5
    assert audited(db, "auth.registration_limited") == 3


def test_recovery_past_the_limit_answers_as_for_an_unknown_account_and_sends_nothing(client, db, clock, world):
    strip = lambda body: re.sub(rb'content="[^"]+"|value="[^"]+"', b"", body)  # noqa: E731  (CSRF tokens)

    def ask(name, ip):
        token = csrf_token(client, "/auth/recover")
        data = {"username": name, "contact": world.phone_a, "csrf_token": token}
        response = client.post("/auth/recover", data=data, environ_base={"REMOTE_ADDR": ip})
        return response.status_code, response.headers.get("Location"), strip(client.get("/auth/sign-in").data)

    answers = [ask("fleet_a", ip) for ip in ADDRESSES]
    unknown = ask("nobody", "203.0.113.9")
    assert all(answer == unknown for answer in answers)
    assert sent_to(db, world.phone_a) == 5
    assert audited(db, "auth.recovery_limited") == 3
    clock.advance(timedelta(hours=1))
    ask("fleet_a", "203.0.113.10")
    assert sent_to(db, world.phone_a) == 6


def test_staff_are_told_when_the_limit_stops_a_reset_link(app, client, db, world):
    from portal.auth.models import User

    user_id = db(lambda s: s.scalar(select(User.id).where(User.username == "fleet_a")))
    login(client, "bj_support", PASSWORD)
    for _ in range(6):
        token = csrf_token(client, "/support/users")
        page = client.post(
            f"/support/users/{user_id}/send-reset-link", data={"csrf_token": token}, follow_redirects=True
        )
    assert "验证码或链接次数过多" in page.get_data(as_text=True)
    assert sent_to(db, world.phone_a) == 5
