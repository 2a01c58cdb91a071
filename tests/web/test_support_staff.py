"""Support staff: own region only, password reset and unlock, every action recorded; other roles out."""

import re

import pytest
from sqlalchemy import select

from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import Db, csrf_token, login


@pytest.fixture
def people(app, clock):
    def build(s):
        world = auth_customers(s, clock.now())
        add_user(s, "bj_support", "staff", clock.now(), region_id=world.region_a)
        add_user(s, "sh_support", "staff", clock.now(), region_id=world.region_b)
        a = add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a, email="a@example.cn")
        b = add_user(s, "fleet_b", "admin", clock.now(), customer_id=world.customer_b)
        return {"a": a.id, "b": b.id, "world": world}

    return Db(app)(build)


def test_staff_see_only_their_region(client, people):
    login(client, "bj_support", PASSWORD)
    listing = client.get("/support/users").get_data(as_text=True)
    assert "fleet_a" in listing and "fleet_b" not in listing
    assert client.get(f"/support/users/{people['a']}").status_code == 200
    assert client.get(f"/support/users/{people['b']}").status_code == 404
    token = csrf_token(client, "/support/users")
    for action in ("reset-password", "send-reset-link", "unlock"):
        assert client.post(f"/support/users/{people['b']}/{action}", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("role_user", ["fleet_a", "sysadmin"])
def test_other_roles_cannot_reach_support_pages(client, app, clock, people, role_user):
    if role_user == "sysadmin":
        Db(app)(lambda s: add_user(s, "sysadmin", "sysadmin", clock.now()))
    login(client, role_user, PASSWORD)
    assert client.get("/support/users").status_code == 403
    assert client.get("/support/audit").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, people):
    response = client.get("/support/users")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_reset_shows_a_temporary_password_once_and_forces_a_change(client, app, people):
    user_client = app.test_client()
    login(user_client, "fleet_a", PASSWORD)
    login(client, "bj_support", PASSWORD)
    page = client.post(
        f"/support/users/{people['a']}/reset-password",
        data={"csrf_token": csrf_token(client, "/support/users"), "confirmed": "yes"},
    )
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    temporary = re.search(r'data-testid="temporary-password"><code>([^<]+)</code>', page.get_data(as_text=True)).group(
        1
    )
    assert user_client.get("/auth/password").status_code == 302  # their session ended
    assert login(user_client, "fleet_a", temporary).status_code == 302
    forced = user_client.get("/")
    assert forced.status_code == 302 and forced.headers["Location"].endswith("/auth/password")
    audit = client.get("/support/audit").get_data(as_text=True)
    assert "fleet_a" in audit and "bj_support" in audit


def test_unlock_ends_a_lockout(client, app, clock, people):
    from portal.auth import services
    from portal.auth.models import User

    def fail_five_times(s):
        for i in range(5):
            try:
                services.authenticate(s, "fleet_a", "wrong", now=clock.now(), ip=f"10.0.0.{i}", rounds=4)
            except services.SignInError:
                pass

    Db(app)(fail_five_times)
    assert Db(app)(lambda s: s.scalar(select(User.locked_until).where(User.username == "fleet_a"))) is not None
    login(client, "bj_support", PASSWORD)
    assert "/unlock" in client.get(f"/support/users/{people['a']}").get_data(as_text=True)
    client.post(f"/support/users/{people['a']}/unlock", data={"csrf_token": csrf_token(client, "/support/users")})
    assert login(app.test_client(), "fleet_a", PASSWORD).status_code == 302


def test_send_reset_link_goes_to_the_outbox(client, app, people):
    from portal.notify.models import OutboxMessage
    from portal.notify.web import console_messages

    login(client, "bj_support", PASSWORD)
    client.post(
        f"/support/users/{people['a']}/send-reset-link", data={"csrf_token": csrf_token(client, "/support/users")}
    )
    message = Db(app)(lambda s: s.scalar(select(OutboxMessage)))
    assert message.recipient == "a@example.cn" and message.sent_at is not None
    assert "/auth/reset/" in console_messages(app, "a@example.cn")[-1].body


def test_a_driver_cannot_reach_admin_or_staff_pages(client, app, clock, people):
    from portal.drivers.models import Driver

    def make_driver(s):
        driver = Driver(customer_id=people["world"].customer_a, name="张伟", created_at=clock.now())
        s.add(driver)
        s.flush()
        add_user(s, "driver1", "driver", clock.now(), customer_id=driver.customer_id, driver_id=driver.id)

    Db(app)(make_driver)
    login(client, "driver1", PASSWORD)
    assert client.get("/profile/").status_code == 403
    assert client.get("/support/users").status_code == 403
