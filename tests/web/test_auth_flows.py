"""Sign-in, captcha, lockout, sessions, password change, recovery and registration through the web."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.notify.web import console_messages
from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(db, clock):
    return db(lambda s: auth_customers(s, clock.now()))


def user_named(db, name):
    from portal.auth.models import User

    return db(lambda s: s.scalar(select(User).where(User.username == name)))


def make(db, clock, name, role="sysadmin", **fields):
    return db(lambda s: add_user(s, name, role, clock.now(), **fields))


def sign_in_form(client, **data):
    return client.post("/auth/sign-in", data={"csrf_token": csrf_token(client), **data})


def with_captcha(client, db, transform=str, **data):
    """Post the sign-in form with the answer to the captcha on the page just loaded."""
    from portal.auth.captcha import expected_answer

    token = csrf_token(client)  # loading the page draws a new captcha
    with client.session_transaction() as flask_session:
        answer = db(lambda s: expected_answer(s, flask_session["captcha"]))
    return client.post("/auth/sign-in", data={"csrf_token": token, "captcha": transform(answer), **data})


def test_captcha_after_3_failures_then_lockout_shows_the_unlock_time(client, db, clock):
    make(db, clock, "alice", "sysadmin")
    for _ in range(3):
        page = login(client, "alice", "wrong").get_data(as_text=True)
    assert "/auth/captcha.png" in page
    image = client.get("/auth/captcha.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    # Without the captcha the password is not even checked.
    refused = sign_in_form(client, username="alice", password=PASSWORD)
    assert refused.status_code == 400 and client.get("/").status_code == 302
    page = with_captcha(client, db, username="alice", password="wrong")
    assert "/auth/captcha.png" in page.get_data(as_text=True)
    assert "captcha-error" not in page.get_data(as_text=True)
    page = with_captcha(client, db, str.lower, username="alice", password="wrong")
    text = page.get_data(as_text=True)
    assert "10:30" in text  # T0 is 10:00 in Shanghai; locked for 30 minutes
    assert user_named(db, "alice").locked_until is not None
    clock.advance(timedelta(minutes=30))
    ok = with_captcha(client, db, username="alice", password=PASSWORD)
    assert ok.status_code == 302


def test_region_is_remembered_and_card_number_signs_in_the_admin(client, db, clock, world):
    make(db, clock, "fleet1", "admin", customer_id=world.customer_a)
    page = client.get("/auth/sign-in").get_data(as_text=True)
    assert "北京" in page and "上海" in page
    wrong_region = sign_in_form(client, region="31", username="fleet1", password=PASSWORD)
    assert wrong_region.status_code == 200 and client.get("/").status_code == 302
    ok = sign_in_form(client, region="11", username=world.main_card_a, password=PASSWORD)
    assert ok.status_code == 302
    assert "region=11" in ok.headers["Set-Cookie"] or client.get_cookie("region").value == "11"
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/auth/password")})
    assert re.search(r'<option selected value="11">', client.get("/auth/sign-in").get_data(as_text=True))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:%20x=1",  # CR/LF: a header injection, not a path
        "/home%0a",
        "/%09/evil.example",
        "/%00",
    ],
)
def test_next_stays_on_this_site(client, db, clock, target):
    make(db, clock, "alice", "sysadmin")
    response = client.post(
        "/auth/sign-in?next=" + target,
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/"


def test_idle_and_absolute_timeouts(client, db, clock):
    make(db, clock, "alice", "sysadmin")
    login(client, "alice", PASSWORD)
    clock.advance(timedelta(minutes=29))
    assert client.get("/auth/password").status_code == 200
    clock.advance(timedelta(minutes=31))
    assert client.get("/auth/password").status_code == 302  # idle for 31 minutes
    login(client, "alice", PASSWORD)
    signed_in_at = clock.now()
    while clock.now() + timedelta(minutes=29) - signed_in_at <= timedelta(hours=12):
        clock.advance(timedelta(minutes=29))  # active all the time
        assert client.get("/auth/password").status_code == 200
    clock.set(signed_in_at + timedelta(hours=12, seconds=1))
    assert client.get("/auth/password").status_code == 302  # absolute: 12 hours at most


def test_password_change_rotates_the_session_and_kills_old_cookies(client, db, clock, app):
    make(db, clock, "alice", "sysadmin")
    client.set_cookie("lang", "en")
    other = app.test_client()
    login(other, "alice", PASSWORD)
    login(client, "alice", PASSWORD)
    old_cookie = client.get_cookie("portal_session").value
    refused = client.post(
        "/auth/password",
        data={"current_password": "nope", "new_password": "New-Pass-2026", "confirm": "New-Pass-2026",
              "csrf_token": csrf_token(client, "/auth/password")},
    )  # fmt: skip
    assert refused.status_code == 422
    weak = client.post(
        "/auth/password",
        data={"current_password": PASSWORD, "new_password": "password1", "confirm": "password1",
              "csrf_token": csrf_token(client, "/auth/password")},
    )  # fmt: skip
    assert weak.status_code == 422 and "common" in weak.get_data(as_text=True)
    changed = client.post(
        "/auth/password",
        data={"current_password": PASSWORD, "new_password": "New-Pass-2026", "confirm": "New-Pass-2026",
              "csrf_token": csrf_token(client, "/auth/password")},
    )  # fmt: skip
    assert changed.status_code == 302
    assert client.get("/auth/password").status_code == 200  # this browser stays in, on a new session
    assert other.get("/auth/password").status_code == 302  # every other session ended
    replay = app.test_client()
    replay.set_cookie("portal_session", old_cookie)
    assert replay.get("/auth/password").status_code == 302


def test_rules_are_shown_where_a_password_is_set(client, db, clock):
    make(db, clock, "alice", "sysadmin")
    login(client, "alice", PASSWORD)
    assert 'data-testid="password-rules"' in client.get("/auth/password").get_data(as_text=True)


def test_expired_password_forces_a_change(client, db, clock):
    make(db, clock, "alice", "sysadmin")
    clock.advance(timedelta(days=91))
    login(client, "alice", PASSWORD)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/password")


def test_recovery_answers_the_same_for_unknown_accounts_and_link_works_once(client, db, clock):
    from portal.notify.models import OutboxMessage

    make(db, clock, "alice", "sysadmin", email="alice@example.cn")
    answers = []
    for name in ("alice", "nobody"):
        response = client.post(
            "/auth/recover",
            data={"username": name, "contact": "alice@example.cn", "csrf_token": csrf_token(client, "/auth/recover")},
        )
        answers.append((response.status_code, response.headers["Location"], client.get("/auth/sign-in").data))
    strip = lambda body: re.sub(rb'content="[^"]+"|value="[^"]+"', b"", body)  # noqa: E731  (CSRF tokens)
    assert answers[0][:2] == answers[1][:2] and strip(answers[0][2]) == strip(answers[1][2])
    messages = db(lambda s: s.scalars(select(OutboxMessage)).all())
    assert len(messages) == 1 and messages[0].sent_at is not None
    assert messages[0].body == messages[0].params == ""  # delivered: the link is no longer in the database
    [sent] = console_messages(client.application)
    link = re.search(r"http://localhost(/auth/reset/\S+)", sent.body).group(1)
    data = {"new_password": "New-Pass-2026", "confirm": "New-Pass-2026", "csrf_token": csrf_token(client, link)}
    assert client.post(link, data=data).status_code == 302
    assert client.get("/").status_code == 302  # no automatic sign-in
    assert client.get(link).status_code == 404  # single use
    assert login(client, "alice", "New-Pass-2026").status_code == 302


def test_only_the_newest_recovery_link_works(client, db, clock):
    make(db, clock, "alice", "sysadmin", email="alice@example.cn")
    for _ in range(2):
        client.post(
            "/auth/recover",
            data={
                "username": "alice",
                "contact": "alice@example.cn",
                "csrf_token": csrf_token(client, "/auth/recover"),
            },
        )
        clock.advance(timedelta(minutes=1))
    bodies = [m.body for m in console_messages(client.application)]
    older, newer = (re.search(r"http://localhost(/auth/reset/\S+)", body).group(1) for body in bodies)
    page = client.get(older)
    assert page.status_code == 404 and "此链接已失效" in page.get_data(as_text=True)
    assert client.get(newer).status_code == 200


def test_registration_by_sms_code_then_sign_in(client, db, world):
    bad = client.post(
        "/auth/register",
        data={"card_number": world.main_card_a, "credit_code": world.credit_code_b, "contact": world.phone_a,
              "csrf_token": csrf_token(client, "/auth/register")},
    )  # fmt: skip
    assert bad.status_code == 422
    response = client.post(
        "/auth/register",
        data={"card_number": world.main_card_a, "credit_code": world.credit_code_a, "contact": world.phone_a,
              "csrf_token": csrf_token(client, "/auth/register")},
    )  # fmt: skip
    assert response.headers["Location"].endswith("/auth/register/account")
    code = re.search(r"\b(\d{6})\b", console_messages(client.application, world.phone_a)[-1].body).group(1)
    form = {"code": code, "username": "fleet1", "new_password": "Fleet-Pass-2026", "confirm": "Fleet-Pass-2026",
            "csrf_token": csrf_token(client, "/auth/register/account")}  # fmt: skip
    assert client.post("/auth/register/account", data=form).status_code == 302
    assert login(client, "fleet1", "Fleet-Pass-2026").status_code == 302
    assert user_named(db, "fleet1").customer_id == world.customer_a


def test_reauth_guard_redirects_until_the_password_is_confirmed(app, client, db, clock):
    from flask_login import login_required

    from portal.auth.web import require_recent_password

    @app.get("/_sensitive")
    @login_required
    @require_recent_password(timedelta(minutes=5))
    def sensitive():
        return "moved money"

    make(db, clock, "alice", "sysadmin")
    login(client, "alice", PASSWORD)
    assert client.get("/_sensitive").data == b"moved money"  # just signed in
    clock.advance(timedelta(minutes=6))
    response = client.get("/_sensitive")
    assert response.status_code == 302 and "/auth/confirm-password?next=/_sensitive" in response.headers["Location"]
    token = csrf_token(client, "/auth/confirm-password")
    assert (
        client.post("/auth/confirm-password?next=/_sensitive", data={"password": "x", "csrf_token": token}).status_code
        == 422
    )
    back = client.post("/auth/confirm-password?next=/_sensitive", data={"password": PASSWORD, "csrf_token": token})
    assert back.headers["Location"] == "/_sensitive"
    assert client.get("/_sensitive").data == b"moved money"


def test_five_wrong_passwords_inside_a_session_sign_out_and_lock(client, db, clock):
    make(db, clock, "alice", "sysadmin")
    other = client.application.test_client()
    login(client, "alice", PASSWORD)
    login(other, "alice", PASSWORD)
    forms = [
        ("/auth/confirm-password", lambda token: {"password": "wrong", "csrf_token": token}),
        (
            "/auth/password",
            lambda token: {
                "current_password": "wrong",
                "new_password": "New-Pass-2026",
                "confirm": "New-Pass-2026",
                "csrf_token": token,
            },
        ),  # fmt: skip
    ]
    for n in range(4):
        url, data = forms[n % 2]
        assert client.post(url, data=data(csrf_token(client, url))).status_code == 422
    url, data = forms[0]
    locked = client.post(url, data=data(csrf_token(client, url)))
    assert locked.status_code == 302 and locked.headers["Location"].startswith("/auth/sign-in")
    page = client.get(locked.headers["Location"]).get_data(as_text=True)
    assert "密码输错次数过多：您已被登出，账户锁定 30 分钟。" in page
    assert client.get("/").status_code == 302  # this browser is signed out
    assert other.get("/").status_code == 302  # and every other session ended
    assert login(client, "alice", PASSWORD).status_code != 302  # locked as sign-in locks
