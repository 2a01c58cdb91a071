"""Auth services against a real database (no Flask): lockout, throttling, registration, recovery,
password changes, staff actions."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.auth import codes, credentials, registration, services
from portal.auth.models import LoginSession
from portal.auth.policy import PasswordPolicy
from portal.support import services as support
from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.conftest import T0

POLICY = PasswordPolicy()


@pytest.fixture
def world(session):
    world = auth_customers(session, T0)
    session.commit()
    return world


def sign_in(session, name, password, now=T0, ip="10.0.0.1", **kwargs):
    try:
        return services.authenticate(session, name, password, now=now, ip=ip, rounds=4, **kwargs)
    finally:
        session.commit()


def test_lockout_at_exactly_the_5th_failure_and_release_after_30_minutes(session):
    add_user(session, "alice", "sysadmin", T0)
    for _ in range(4):
        with pytest.raises(services.SignInError) as refused:
            sign_in(session, "alice", "wrong")
        assert not isinstance(refused.value, services.AccountLocked)
    with pytest.raises(services.AccountLocked) as locked:
        sign_in(session, "alice", "wrong")
    assert locked.value.until == T0 + timedelta(minutes=30)
    with pytest.raises(services.AccountLocked):  # even the right password
        sign_in(session, "alice", PASSWORD, now=T0 + timedelta(minutes=29, seconds=59))
    assert sign_in(session, "alice", PASSWORD, now=T0 + timedelta(minutes=30)).username == "alice"
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("auth.sign_in_failed") == 5 and actions.count("auth.locked") == 1


def test_unknown_names_get_the_same_captcha_and_lockout_as_real_ones(session):
    add_user(session, "alice", "sysadmin", T0)
    outcomes = {}
    for name in ("alice", "nobody"):
        seen = []
        for attempt in range(6):
            ip = f"10.1.{attempt}.{len(name)}"  # a new address each time: only the name counts
            captcha = services.captcha_required(session, name, ip, now=T0)
            try:
                sign_in(session, name, "wrong", ip=ip)
            except services.AccountLocked:
                seen.append((captcha, "locked"))
            except services.SignInError:
                seen.append((captcha, "refused"))
        outcomes[name] = seen
    assert outcomes["alice"] == outcomes["nobody"]
    assert outcomes["alice"][3] == (True, "refused") and outcomes["alice"][4][1] == "locked"


def test_captcha_after_3_failures_from_one_address(session):
    for i in range(3):
        assert not services.captcha_required(session, "", "10.9.9.9", now=T0)
        with pytest.raises(services.SignInError):
            sign_in(session, f"name{i}", "x", ip="10.9.9.9")
    assert services.captcha_required(session, "", "10.9.9.9", now=T0)
    assert not services.captcha_required(session, "", "10.9.9.9", now=T0 + timedelta(minutes=31))


def test_region_and_main_card_number_sign_in(session, world):
    add_user(session, "first_admin", "admin", T0, customer_id=world.customer_a)
    add_user(session, "second_admin", "admin", T0, customer_id=world.customer_a)
    session.commit()
    assert sign_in(session, world.main_card_a, PASSWORD).username == "first_admin"
    assert sign_in(session, "second_admin", PASSWORD, region_id=world.region_a).username == "second_admin"
    with pytest.raises(services.SignInError):  # the account is in region A
        sign_in(session, "second_admin", PASSWORD, region_id=world.region_b)
    with pytest.raises(services.SignInError):  # a sub-card number signs nobody in
        sign_in(session, world.sub_card_a, PASSWORD)


def test_registration_code_10_minutes_5_attempts(session, world):
    row, code = registration.start(session, world.main_card_a, world.credit_code_a.lower(), world.phone_a, now=T0)
    session.commit()
    assert row.channel == "sms" and row.destination == world.phone_a and len(code) == 6
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(registration.CodeRejected) as rejected:
            registration.complete(session, row.id, wrong, "fleet1", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)
        assert rejected.value.remaining == left
    with pytest.raises(registration.CodeRejected) as rejected:
        registration.complete(session, row.id, wrong, "fleet1", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)
    assert rejected.value.remaining == 0
    with pytest.raises(registration.CodeRejected):  # exhausted: even the right code is refused
        registration.complete(session, row.id, code, "fleet1", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)

    row, code = registration.start(session, world.main_card_a, world.credit_code_a, world.email_a, now=T0)
    assert row.channel == "email"
    with pytest.raises(registration.CodeRejected):
        registration.complete(
            session, row.id, code, "fleet1", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0 + timedelta(minutes=10)
        )
    row, code = registration.start(session, world.main_card_a, world.credit_code_a, world.email_a, now=T0)
    with pytest.raises(services.PasswordRejected):  # contains a card number of the customer
        registration.complete(
            session, row.id, code, "fleet1", "Ab-" + world.sub_card_a, policy=POLICY, rounds=4, now=T0
        )
    user = registration.complete(session, row.id, code, "fleet1", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)
    session.commit()
    assert user.role == "admin" and user.customer_id == world.customer_a and user.email == world.email_a
    with pytest.raises(registration.CodeRejected):  # single use
        registration.complete(session, row.id, code, "fleet2", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)


@pytest.mark.parametrize(
    "card, credit, contact",
    [
        ("9030110000000099", "91110105MA01AUTH1X", "13900000001"),  # unknown card
        ("9030110000000017", "91310115MA1KAUTH2Y", "13900000001"),  # another customer's credit code
        ("9030110000000017", "91110105MA01AUTH1X", "13900000002"),  # another phone
        ("9030110000000025", "91110105MA01AUTH1X", "13900000001"),  # a sub-card
    ],
)
def test_registration_mismatch_is_one_neutral_error(session, world, card, credit, contact):
    with pytest.raises(registration.DetailsMismatch):
        registration.start(session, card, credit, contact, now=T0)


def test_recovery_link_works_once_and_not_after_30_minutes(session):
    user = add_user(session, "alice", "sysadmin", T0, email="alice@example.cn", phone="13911112222")
    live = services.start_session(session, user, now=T0)
    assert credentials.start_recovery(session, "alice", "wrong@example.cn", now=T0) is None
    assert credentials.start_recovery(session, "nobody", "alice@example.cn", now=T0) is None
    _, late = credentials.start_recovery(session, "alice", "ALICE@example.cn", now=T0)
    with pytest.raises(LookupError):
        credentials.finish_recovery(
            session, late, "New-Pass-2026", policy=POLICY, rounds=4, now=T0 + timedelta(minutes=30)
        )
    row, token = credentials.start_recovery(session, "alice", "139 1111 2222", now=T0)
    assert row.channel == "sms"
    credentials.finish_recovery(
        session, token, "New-Pass-2026", policy=POLICY, rounds=4, now=T0 + timedelta(minutes=29)
    )
    with pytest.raises(LookupError):
        credentials.finish_recovery(
            session, token, "Newer-Pass-2026", policy=POLICY, rounds=4, now=T0 + timedelta(minutes=29)
        )
    session.commit()
    assert services.resume_session(session, live, now=T0, policy=services.SessionPolicy()) is None
    assert sign_in(session, "alice", "New-Pass-2026").username == "alice"


def test_change_password_checks_current_and_history_and_ends_sessions(session):
    user = add_user(session, "alice", "sysadmin", T0)
    services.start_session(session, user, now=T0)
    with pytest.raises(credentials.WrongPassword):
        credentials.change_password(session, user, "wrong", "New-Pass-2026", policy=POLICY, rounds=4, now=T0)
    with pytest.raises(services.PasswordRejected):
        credentials.change_password(session, user, PASSWORD, PASSWORD, policy=POLICY, rounds=4, now=T0)
    passwords = [PASSWORD] + [f"Rotate-Pass-{i}" for i in range(5)]
    for old, new in zip(passwords, passwords[1:], strict=False):
        credentials.change_password(session, user, old, new, policy=POLICY, rounds=4, now=T0)
    # The last 5 (Rotate 0..4) are refused; the first one is old enough to come back.
    with pytest.raises(services.PasswordRejected):
        credentials.change_password(session, user, "Rotate-Pass-4", "Rotate-Pass-0", policy=POLICY, rounds=4, now=T0)
    credentials.change_password(session, user, "Rotate-Pass-4", PASSWORD, policy=POLICY, rounds=4, now=T0)
    session.commit()
    live = session.scalar(select(func.count()).select_from(LoginSession).where(LoginSession.revoked_at.is_(None)))
    assert live == 0


def test_staff_reset_and_unlock_are_recorded_for_the_customer(session, world):
    staff = add_user(session, "bj_support", "staff", T0, region_id=world.region_a)
    admin = add_user(session, "fleet1", "admin", T0, customer_id=world.customer_a)
    other = add_user(session, "fleet_b", "admin", T0, customer_id=world.customer_b)
    session.commit()
    assert support.user_in_region(session, world.region_a, admin.id) is admin
    assert support.user_in_region(session, world.region_a, other.id) is None
    assert [u.username for u, _ in support.users_in_region(session, world.region_a, world.main_card_a)] == ["fleet1"]
    temporary = credentials.staff_reset_password(session, staff, admin, policy=POLICY, rounds=4, now=T0)
    assert POLICY.problems(temporary, username="fleet1") == [] and admin.must_change_password
    credentials.unlock(session, staff, admin, now=T0)
    session.commit()
    seen = support.staff_actions(session, customer_id=world.customer_a).rows
    assert sorted(e.action for e in seen) == ["support.reset_password", "support.unlock"]
    assert all(e.region_id == world.region_a and e.actor_id == staff.id for e in seen)
    assert support.staff_actions(session, customer_id=world.customer_b).total == 0
    assert sign_in(session, "fleet1", temporary).must_change_password


def test_link_tokens_are_stored_hashed(session):
    user = add_user(session, "alice", "sysadmin", T0, email="a@example.cn")
    row, token = codes.issue_link_token(session, user_id=user.id, destination="a@example.cn", now=T0)
    assert token not in row.code_hash and codes.find_link(session, token, T0) is row


def test_a_newer_recovery_link_kills_the_older_one(session):
    user = add_user(session, "alice", "sysadmin", T0, email="a@example.cn")
    first, first_token = codes.issue_link_token(session, user_id=user.id, destination="a@example.cn", now=T0)
    later = T0 + timedelta(minutes=2)
    second, second_token = codes.issue_link_token(session, user_id=user.id, destination="a@example.cn", now=later)
    assert codes.find_link(session, first_token, later) is None
    assert codes.find_link(session, second_token, later) is second
    with pytest.raises(LookupError):
        credentials.finish_recovery(session, first_token, "Fresh-Passw0rd-77", policy=POLICY, rounds=4, now=later)
    credentials.finish_recovery(session, second_token, "Fresh-Passw0rd-77", policy=POLICY, rounds=4, now=later)
    assert codes.find_link(session, second_token, later) is None  # single use


def test_a_password_change_kills_links_sent_before_it(session):
    user = add_user(session, "alice", "sysadmin", T0, email="a@example.cn")
    row, token = codes.issue_link_token(session, user_id=user.id, destination="a@example.cn", now=T0)
    assert codes.find_link(session, token, T0) is row
    changed = T0 + timedelta(minutes=5)
    credentials.set_password(session, user, "Fresh-Passw0rd-77", policy=POLICY, rounds=4, now=changed)
    assert codes.find_link(session, token, changed) is None
    with pytest.raises(LookupError):
        credentials.finish_recovery(session, token, "Other-Passw0rd-88", policy=POLICY, rounds=4, now=changed)


def _live_sessions(session, user) -> int:
    return session.scalar(
        select(func.count())
        .select_from(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    )


def test_wrong_passwords_inside_a_session_lock_like_sign_in(session):
    """Failures count per user across every in-session password form; the 5th ends all sessions and locks."""
    user = add_user(session, "alice", "sysadmin", T0)
    services.start_session(session, user, now=T0)
    services.start_session(session, user, now=T0)
    login = session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    attempts = [
        lambda: credentials.confirm_password(session, login, "wrong", now=T0),
        lambda: credentials.change_password(session, user, "wrong", "New-Pass-2026", policy=POLICY, rounds=4, now=T0),
    ]
    for n in range(4):
        with pytest.raises(credentials.WrongPassword) as wrong:
            attempts[n % 2]()
        assert not wrong.value.locked
    assert _live_sessions(session, user) == 2 and user.locked_until is None
    with pytest.raises(credentials.WrongPassword) as wrong:
        attempts[0]()
    assert wrong.value.locked
    session.commit()
    assert _live_sessions(session, user) == 0
    assert user.locked_until is not None and user.locked_until > T0
    with pytest.raises(services.AccountLocked):
        sign_in(session, "alice", PASSWORD, now=T0 + timedelta(minutes=1))
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user.id)).all()
    assert actions.count("auth.locked_in_session") == 1


def test_a_right_password_in_a_session_resets_the_count(session):
    user = add_user(session, "alice", "sysadmin", T0)
    services.start_session(session, user, now=T0)
    login = session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    for _ in range(2):
        for _ in range(4):
            with pytest.raises(credentials.WrongPassword) as wrong:
                credentials.confirm_password(session, login, "wrong", now=T0)
            assert not wrong.value.locked
        credentials.confirm_password(session, login, PASSWORD, now=T0)
    assert user.locked_until is None and _live_sessions(session, user) == 1
