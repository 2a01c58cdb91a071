"""The customer's activity log (profile.audit): fleet admins see what support staff did to their
users, newest first, in pages; nobody else sees it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import Db, login

URL = "/profile/activity"


@pytest.fixture
def people(app, clock):
    def build(s):
        world = auth_customers(s, clock.now())
        staff_a = add_user(s, "bj_support", "staff", clock.now(), region_id=world.region_a, display_name="北京客服")
        staff_b = add_user(s, "sh_support", "staff", clock.now(), region_id=world.region_b)
        a = add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a, email="a@example.cn")
        add_user(s, "fleet_a2", "admin", clock.now(), customer_id=world.customer_a)
        b = add_user(s, "fleet_b", "admin", clock.now(), customer_id=world.customer_b)
        return {"a": a.id, "b": b.id, "staff_a": staff_a.id, "staff_b": staff_b.id, "world": world}

    return Db(app)(build)


def staff_action(app, clock, action: str, staff_id: int, user_id: int, minutes: int) -> None:
    """Record one support action `minutes` after T0 through the auth services."""
    from portal.auth import credentials
    from portal.auth.models import User

    def act(s):
        staff, user = s.get(User, staff_id), s.get(User, user_id)
        now = clock.now() + timedelta(minutes=minutes)
        if action == "unlock":
            credentials.unlock(s, staff, user, now=now)
        else:
            credentials.staff_send_reset_link(s, staff, user, channel="email", now=now)

    Db(app)(act)


def rows(page: str) -> list[str]:
    """The action codes of the table's rows, in order."""
    return re.findall(r'<tr data-action="([^"]+)"', page)


def test_admins_see_support_actions_on_their_users_with_who_and_when(app, client, clock, people):
    staff_action(app, clock, "unlock", people["staff_a"], people["a"], minutes=-30)
    staff_action(app, clock, "link", people["staff_a"], people["a"], minutes=-10)
    staff_action(app, clock, "unlock", people["staff_b"], people["b"], minutes=-20)  # another customer's
    login(client, "fleet_a2", PASSWORD)
    response = client.get(URL + "?kind=staff")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert rows(page) == ["support.send_reset_link", "support.unlock"]  # newest first, customer A's only
    assert "客服发送了重置链接" in page and "客服解除了账户锁定" in page  # translated labels
    assert "北京客服" in page and "fleet_a" in page
    assert "sh_support" not in page and "fleet_b" not in page
    assert "09:50" in page and "09:30" in page  # Shanghai time (T0 is 10:00 there)

    # The unfiltered log also has the customer's own users' sign-ins, still nothing of customer B.
    everything = client.get(URL).get_data(as_text=True)
    assert "auth.sign_in" in rows(everything) and "support.unlock" in rows(everything)
    assert "fleet_b" not in everything and "sh_support" not in everything


def test_another_customers_admin_sees_none_of_these_rows(app, client, clock, people):
    staff_action(app, clock, "unlock", people["staff_a"], people["a"], minutes=-5)
    login(client, "fleet_b", PASSWORD)
    page = client.get(URL + "?kind=staff").get_data(as_text=True)
    assert rows(page) == [] and 'data-testid="empty"' in page
    assert "fleet_a" not in client.get(URL).get_data(as_text=True)


def test_pages_are_keyset_newest_first_and_never_overlap(app, client, clock, people):
    app.config["PAGE_SIZE"] = 2
    for minutes in range(-50, 0, 10):  # five actions
        staff_action(app, clock, "unlock", people["staff_a"], people["a"], minutes=minutes)
    login(client, "fleet_a2", PASSWORD)
    seen, url = [], URL + "?kind=staff"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen.append(re.findall(r"<td>([^<]*\d\d:\d\d[^<]*)</td>", page))
        match = re.search(r'href="([^"]+)" rel="next"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert [len(p) for p in seen] == [2, 2, 1]
    times = [t for p in seen for t in p]
    assert times == sorted(times, reverse=True) and len(set(times)) == 5


def test_a_forged_cursor_is_refused_cleanly(client, people):
    login(client, "fleet_a2", PASSWORD)
    response = client.get(URL + "?cursor=not-a-cursor")
    assert response.status_code == 303 and response.headers["Location"].endswith(URL)


@pytest.mark.parametrize("who", ["bj_support", "sysadmin", "driver1"])
def test_other_roles_get_403(app, client, clock, people, who):
    from portal.drivers.models import Driver

    def more(s):
        add_user(s, "sysadmin", "sysadmin", clock.now())
        driver = Driver(customer_id=people["world"].customer_a, name="张伟", created_at=clock.now())
        s.add(driver)
        s.flush()
        add_user(s, "driver1", "driver", clock.now(), customer_id=driver.customer_id, driver_id=driver.id)

    Db(app)(more)
    login(client, who, PASSWORD)
    assert client.get(URL).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, people):
    response = client.get(URL)
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_the_menu_links_to_the_log(client, people):
    login(client, "fleet_a", PASSWORD)
    assert f'href="{URL}"' in client.get("/").get_data(as_text=True)
