"""Send limits on one-time codes and links: per phone number or mail address and per account, per hour
and per day, counted in the database (no sleeping: the time is passed in)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.auth import codes, credentials, registration
from tests.builders import auth_customers
from tests.builders import create_user as add_user
from tests.conftest import T0

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def world(session):
    world = auth_customers(session, T0)
    session.commit()
    return world


def register(session, world, now, contact=None):
    try:
        return registration.start(
            session, world.main_card_a, world.credit_code_a, contact or world.phone_a, now=now, ip="10.0.0.1"
        )
    finally:
        session.commit()


def recover(session, name, contact, now):
    try:
        return credentials.start_recovery(session, name, contact, now=now, ip="10.0.0.1")
    finally:
        session.commit()


def actions(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_the_6th_registration_code_in_an_hour_is_refused_then_allowed_after_the_hour(session, world):
    for i in range(5):
        register(session, world, T0 + i * MINUTE)
    with pytest.raises(codes.TooManySent) as refused:
        register(session, world, T0 + 10 * MINUTE)
    assert refused.value.retry_at == T0 + HOUR  # the first of the five leaves the hour
    [event] = actions(session, "auth.registration_limited")
    assert event.customer_id == world.customer_a
    with pytest.raises(codes.TooManySent):
        register(session, world, T0 + HOUR - timedelta(seconds=1))
    row, _ = register(session, world, T0 + HOUR)
    assert row.destination == world.phone_a


def test_the_daily_cap_holds_when_each_hour_is_under_its_limit(session, world):
    for i in range(10):
        register(session, world, T0 + i * 2 * HOUR)  # 1 an hour: never 5 in one hour
    with pytest.raises(codes.TooManySent) as refused:
        register(session, world, T0 + 20 * HOUR)
    assert refused.value.retry_at == T0 + DAY
    register(session, world, T0 + DAY)


def test_codes_to_the_customer_count_together_whatever_the_channel(session, world):
    """Per account: the customer's codes by SMS and by mail share the limit."""
    for i in range(3):
        register(session, world, T0 + i * MINUTE)
    for i in range(2):
        register(session, world, T0 + (3 + i) * MINUTE, contact=world.email_a)
    with pytest.raises(codes.TooManySent):
        register(session, world, T0 + 6 * MINUTE, contact=world.email_a)


def test_recovery_past_the_limit_sends_nothing_says_nothing_and_is_recorded(session):
    add_user(session, "alice", "sysadmin", T0, email="alice@example.cn", phone="13911112222")
    session.commit()
    for i in range(3):
        assert recover(session, "alice", "alice@example.cn", T0 + i * MINUTE) is not None
    for i in range(2):  # the other channel: same account
        assert recover(session, "alice", "13911112222", T0 + (3 + i) * MINUTE) is not None
    assert recover(session, "alice", "alice@example.cn", T0 + 6 * MINUTE) is None
    assert recover(session, "alice", "13911112222", T0 + 7 * MINUTE) is None
    assert len(actions(session, "auth.recovery_limited")) == 2
    assert recover(session, "alice", "alice@example.cn", T0 + HOUR) is not None


def test_one_phone_shared_by_several_accounts_is_limited_as_one_destination(session):
    for name in ("wang", "li", "zhao"):
        add_user(session, name, "sysadmin", T0, phone="13911112222")
    session.commit()
    sent = [recover(session, name, "13911112222", T0) for name in ("wang", "li", "zhao", "wang", "li")]
    assert all(sent)
    assert recover(session, "zhao", "13911112222", T0 + MINUTE) is None


def test_registration_codes_and_reset_links_to_one_phone_count_together(session, world):
    add_user(session, "fleet_a", "admin", T0, customer_id=world.customer_a, phone=world.phone_a)
    session.commit()
    for i in range(3):
        register(session, world, T0 + i * MINUTE)
    for i in range(2):
        assert recover(session, "fleet_a", world.phone_a, T0 + (3 + i) * MINUTE) is not None
    with pytest.raises(codes.TooManySent):
        register(session, world, T0 + 6 * MINUTE)
    assert recover(session, "fleet_a", world.phone_a, T0 + 6 * MINUTE) is None


def test_staff_sending_links_is_limited_too(session, world):
    staff = add_user(session, "bj_support", "staff", T0, region_id=world.region_a)
    user = add_user(session, "fleet_a", "admin", T0, customer_id=world.customer_a, email="a@example.cn")
    limits = codes.SendLimits(per_hour=2, per_day=3)
    for i in range(2):
        credentials.staff_send_reset_link(session, staff, user, channel="email", now=T0 + i * MINUTE, limits=limits)
    with pytest.raises(codes.TooManySent) as refused:
        credentials.staff_send_reset_link(session, staff, user, channel="email", now=T0 + 2 * MINUTE, limits=limits)
    assert refused.value.retry_at == T0 + HOUR
    credentials.staff_send_reset_link(session, staff, user, channel="email", now=T0 + HOUR, limits=limits)
    with pytest.raises(codes.TooManySent) as refused:
        credentials.staff_send_reset_link(session, staff, user, channel="email", now=T0 + 3 * HOUR, limits=limits)
    assert refused.value.retry_at == T0 + DAY


def test_one_phone_written_in_different_ways_is_one_destination(session):
    """An admin cannot spread one phone over accounts by writing it differently."""
    written = [
        "13911112222",
        "139-1111-2222",
        "139 1111 2222",
        "+86 139 1111 2222",
        "0086-13911112222",
        "（１３９）１１１１２２２２",  # full width, as a Chinese input method types it
    ]
    for i, phone in enumerate(written):
        add_user(session, f"driver{i}", "sysadmin", T0, phone=phone)
    session.commit()
    sent = [recover(session, f"driver{i}", phone, T0) for i, phone in enumerate(written)]
    assert [bool(s) for s in sent] == [True] * 5 + [False]
    assert codes.contact_key("Alice@Example.CN ") == codes.contact_key("alice@example.cn")


def test_full_width_contacts_have_the_key_of_their_ascii_form():
    assert codes.contact_key("１３９１１１１２２２２") == "13911112222"
    assert codes.contact_key("ＡＬＩＣＥ＠example.cn") == "alice@example.cn"
