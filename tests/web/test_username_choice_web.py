"""A user name taken by another company is answered exactly like one taken in our own, with a free
name suggested: on the new-driver form, a driver's late login, and registration."""

import re

from sqlalchemy import select

from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import csrf_token, login

SUGGESTION = re.compile(r"可以使用 ([A-Za-z0-9._@-]+)，")
#: Parts of a page that differ between two posts anyway: CSRF tokens, the typed name, the suggestion.
VARYING = re.compile(r'content="[^"]+"|value="[^"]*"|可以使用 [A-Za-z0-9._@-]+，')


def is_free(db, name):
    from portal.auth.models import User

    return db(lambda s: s.scalar(select(User.id).where(User.username.ilike(name)))) is None


def new_driver(client, username):
    data = {"name": "李四", "username": username, "phone": "13911112222", "csrf_token": csrf_token(client, "/drivers/")}
    return client.post("/drivers/new", data=data)


def test_a_driver_named_like_another_company_s_user_gets_the_same_answer_as_one_of_ours(client, db, fleet_ids):
    one, _ = fleet_ids
    login(client, one.admin, PASSWORD)
    own, foreign, foreign_admin = (new_driver(client, name) for name in ("driver1", "driver2", "Admin2"))
    assert own.status_code == foreign.status_code == foreign_admin.status_code == 409
    pages = [r.get_data(as_text=True) for r in (own, foreign, foreign_admin)]
    assert VARYING.sub("", pages[0]) == VARYING.sub("", pages[1]) == VARYING.sub("", pages[2])
    for page in pages:
        suggestion = SUGGESTION.search(page).group(1)
        assert f"该用户名不可用。可以使用 {suggestion}，或另选一个。" in page  # nothing about whose it is
        assert is_free(db, suggestion)
    assert new_driver(client, SUGGESTION.search(pages[1]).group(1)).status_code == 200


def test_a_late_driver_login_named_like_another_company_s_user_gets_the_same_flash(app, client, db, fleet_ids):
    from portal.drivers.models import Driver

    one, _ = fleet_ids
    driver_id = db(lambda s: _add_driver_without_login(s, one.customer, Driver))
    login(client, one.admin, PASSWORD)
    flashes = []
    for name in ("driver1", "driver2"):
        token = csrf_token(client, "/drivers/")
        page = client.post(
            f"/drivers/{driver_id}/login", data={"username": name, "csrf_token": token}, follow_redirects=True
        )
        flashes.append(page.get_data(as_text=True))
    assert VARYING.sub("", flashes[0]) == VARYING.sub("", flashes[1])
    assert all(is_free(db, SUGGESTION.search(page).group(1)) for page in flashes)


def _add_driver_without_login(session, customer_id, Driver):
    from portal.extensions import clock

    driver = Driver(customer_id=customer_id, name="王五", created_at=clock().now())
    session.add(driver)
    session.flush()
    return driver.id


def test_registration_refuses_another_company_s_name_as_it_refuses_its_own_with_a_free_suggestion(client, db, clock):
    from portal.notify.web import console_messages

    def build(s):
        world = auth_customers(s, clock.now())
        add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a)
        add_user(s, "fleet_b", "admin", clock.now(), customer_id=world.customer_b)
        return world

    world = db(build)
    client.post(
        "/auth/register",
        data={"card_number": world.main_card_a, "credit_code": world.credit_code_a, "contact": world.phone_a,
              "csrf_token": csrf_token(client, "/auth/register")},
    )  # fmt: skip
    code = re.search(r"\b(\d{6})\b", console_messages(client.application, world.phone_a)[-1].body).group(1)

    def register(name):
        form = {"code": code, "username": name, "new_password": "Fleet-Pass-2026", "confirm": "Fleet-Pass-2026",
                "csrf_token": csrf_token(client, "/auth/register/account")}  # fmt: skip
        return client.post("/auth/register/account", data=form)

    own, foreign = register("fleet_a"), register("FLEET_B")
    assert own.status_code == foreign.status_code == 422
    pages = [r.get_data(as_text=True) for r in (own, foreign)]
    assert VARYING.sub("", pages[0]) == VARYING.sub("", pages[1])
    suggestion = SUGGESTION.search(pages[1]).group(1)
    assert is_free(db, suggestion)
    assert register(suggestion).status_code == 302
