"""Drivers and vehicles through the web: a new driver's one-time password, deactivation, vehicles."""

from __future__ import annotations

import re

import pytest

from tests.builders import PASSWORD
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(fleet_ids):
    return fleet_ids


def _new_driver(client, **fields):
    data = {"name": "李四", "username": "li.si", "phone": "13911112222", "csrf_token": csrf_token(client, "/drivers/")}
    data.update(fields)
    return client.post("/drivers/new", data=data)


def test_new_driver_gets_a_one_time_password_shown_once_and_must_change_it(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    response = _new_driver(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'data-testid="password">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert password not in client.get("/drivers/").get_data(as_text=True)
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert login(client, "li.si", password).status_code == 302
    gated = client.get("/cards/mine")
    assert gated.status_code == 302 and gated.headers["Location"].endswith("/auth/password")


def test_taken_user_name_and_bad_input_are_refused(app, client, world):
    from portal.drivers.models import Driver
    from portal.extensions import db

    one, _ = world
    login(client, one.admin, PASSWORD)
    assert _new_driver(client, username="driver2").status_code == 409
    assert _new_driver(client, username="x").status_code == 422
    assert _new_driver(client, name="").status_code == 422
    with app.app_context():
        assert db.session.query(Driver).count() == 2


def _driver_active(app, driver_id):
    from portal.drivers.models import Driver
    from portal.extensions import db

    with app.app_context():
        return db.session.get(Driver, driver_id).active


def test_deactivation_asks_first_and_warns_about_the_drivers_cards(app, client, world):
    from portal.cards.models import Card
    from portal.extensions import db

    one, _ = world
    with app.app_context():
        number = db.session.get(Card, one.cards[0]).number
    login(client, one.admin, PASSWORD)
    listing = client.get("/drivers/").get_data(as_text=True)
    assert f"/drivers/{one.driver}/deactivate" in listing
    token = csrf_token(client, "/drivers/")
    # the old one-click POST only leads to the confirmation: nothing changes without it
    direct = client.post(f"/drivers/{one.driver}/active", data={"active": "0", "csrf_token": token})
    assert direct.status_code == 303 and direct.headers["Location"].endswith(f"/drivers/{one.driver}/deactivate")
    assert _driver_active(app, one.driver)
    client.set_cookie("lang", "en")
    page = client.get(f"/drivers/{one.driver}/deactivate")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="driver-cards-warning"' in text
    assert number[-4:] in text and "stay active and assigned" in text
    assert _driver_active(app, one.driver)  # GET never writes
    assert client.post(f"/drivers/{one.driver}/deactivate", data={}).status_code == 400  # no CSRF token
    assert _driver_active(app, one.driver)


def test_a_driver_without_cards_is_deactivated_without_a_warning(app, client, world):
    from portal.cards.models import Card
    from portal.extensions import db

    one, _ = world
    with app.app_context():
        db.session.get(Card, one.cards[0]).driver_id = None
        db.session.commit()
    login(client, one.admin, PASSWORD)
    page = client.get(f"/drivers/{one.driver}/deactivate").get_data(as_text=True)
    assert "driver-cards-warning" not in page


def test_deactivated_driver_cannot_sign_in(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    token = csrf_token(client, "/drivers/")
    assert client.post(f"/drivers/{one.driver}/deactivate", data={"csrf_token": token}).status_code == 302
    assert not _driver_active(app, one.driver)
    other = app.test_client()
    login(other, one.driver_user, PASSWORD)
    assert other.get("/cards/mine").status_code == 302
    page = client.get("/drivers/?show=inactive").get_data(as_text=True)
    assert "司机1" in page


def test_reset_password_asks_first_and_a_post_without_the_confirmation_changes_nothing(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    assert f"/drivers/{one.driver}/reset-password" in client.get(f"/drivers/{one.driver}").get_data(as_text=True)
    page = client.get(f"/drivers/{one.driver}/reset-password")
    assert page.status_code == 200 and 'data-testid="confirm-driver-reset"' in page.get_data(as_text=True)
    token = csrf_token(client, "/drivers/")
    direct = client.post(f"/drivers/{one.driver}/reset-password", data={"csrf_token": token})
    assert direct.status_code == 303 and direct.headers["Location"].endswith(f"/drivers/{one.driver}/reset-password")
    assert client.post(f"/drivers/{one.driver}/reset-password", data={"confirmed": "yes"}).status_code == 400
    assert login(app.test_client(), one.driver_user, PASSWORD).status_code == 302  # the password still works


def test_reset_password_with_the_confirmation_shows_a_new_one(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    response = client.post(
        f"/drivers/{one.driver}/reset-password",
        data={"csrf_token": csrf_token(client, "/drivers/"), "confirmed": "yes"},
    )
    assert response.status_code == 200 and 'data-testid="password"' in response.get_data(as_text=True)
    assert login(app.test_client(), one.driver_user, PASSWORD).status_code == 200  # the old password is gone


def _vehicle_active(app, vehicle_id):
    from portal.drivers.models import Vehicle
    from portal.extensions import db

    with app.app_context():
        return db.session.get(Vehicle, vehicle_id).active


def test_vehicle_deactivation_asks_first_and_lists_the_vehicles_cards(app, client, world):
    from portal.cards.models import Card
    from portal.extensions import db

    one, _ = world
    with app.app_context():
        number = db.session.get(Card, one.cards[0]).number
    login(client, one.admin, PASSWORD)
    assert f"/drivers/vehicles/{one.vehicle}/deactivate" in client.get("/drivers/").get_data(as_text=True)
    token = csrf_token(client, "/drivers/")
    direct = client.post(f"/drivers/vehicles/{one.vehicle}/active", data={"active": "0", "csrf_token": token})
    assert direct.status_code == 303
    assert direct.headers["Location"].endswith(f"/drivers/vehicles/{one.vehicle}/deactivate")
    unconfirmed = client.post(f"/drivers/vehicles/{one.vehicle}/deactivate", data={"csrf_token": token})
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["Location"].endswith(f"/drivers/vehicles/{one.vehicle}/deactivate")
    assert client.post(f"/drivers/vehicles/{one.vehicle}/deactivate", data={"confirmed": "yes"}).status_code == 400
    client.set_cookie("lang", "en")
    page = client.get(f"/drivers/vehicles/{one.vehicle}/deactivate").get_data(as_text=True)
    assert 'data-testid="vehicle-cards-warning"' in page and number[-4:] in page
    assert _vehicle_active(app, one.vehicle)
    done = client.post(f"/drivers/vehicles/{one.vehicle}/deactivate", data={"csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 302 and not _vehicle_active(app, one.vehicle)
    with app.app_context():
        assert db.session.get(Card, one.cards[0]).vehicle_id == one.vehicle  # the card stays assigned
    again = client.post(f"/drivers/vehicles/{one.vehicle}/active", data={"active": "1", "csrf_token": token})
    assert again.status_code == 302 and _vehicle_active(app, one.vehicle)


def test_a_vehicle_without_cards_is_confirmed_without_a_warning(app, client, world):
    from portal.cards.models import Card
    from portal.extensions import db

    one, _ = world
    with app.app_context():
        db.session.get(Card, one.cards[0]).vehicle_id = None
        db.session.commit()
    login(client, one.admin, PASSWORD)
    page = client.get(f"/drivers/vehicles/{one.vehicle}/deactivate").get_data(as_text=True)
    assert "vehicle-cards-warning" not in page and "confirmed" in page


@pytest.mark.parametrize(
    ("plate", "tank", "status"),
    [
        ("京B·54321", "60", 302),
        ("京A12341", "60", 409),
        ("nonsense", "60", 422),  # the form says what a plate looks like
        ("京C11111", "12.345", 422),
        ("京C11111", "-5", 422),
        ("京C11111", "", 422),
        ("京AD12345", "60", 302),
        ("京A12345F", "60", 302),
    ],
)
def test_vehicle_input(app, client, world, plate, tank, status):
    one, _ = world
    login(client, one.admin, PASSWORD)
    response = client.post(
        "/drivers/vehicles/new", data={"plate": plate, "tank": tank, "csrf_token": csrf_token(client, "/drivers/")}
    )
    assert response.status_code == status


@pytest.mark.parametrize(
    ("plate", "tank", "message", "not_said"),
    [
        ("京C11111", "-5", "The volume cannot be negative.", "This field is required"),
        ("京C11111", "0", "The volume must be more than zero.", "This field is required"),
        ("京C11111", "60000", "The volume can be at most 2,000", "This field is required"),
        ("京A123456", "60", "8 characters with D or F", "registered already"),
        ("nonsense", "60", "province, letter and 5 letters or digits", "registered already"),
    ],
)
def test_vehicle_form_says_what_is_wrong(app, client, world, plate, tank, message, not_said):
    one, _ = world
    login(client, one.admin, PASSWORD)
    client.set_cookie("lang", "en")
    response = client.post(
        "/drivers/vehicles/new", data={"plate": plate, "tank": tank, "csrf_token": csrf_token(client, "/drivers/")}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in text and not_said not in text


def test_vehicle_form_messages_are_chinese_by_default(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    response = client.post(
        "/drivers/vehicles/new",
        data={"plate": "京A123456", "tank": "-5", "csrf_token": csrf_token(client, "/drivers/")},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "新能源" in text and "province" not in text


def test_edit_vehicle_and_assign_card(app, client, world):
    from portal.cards.models import Card
    from portal.drivers.models import Vehicle
    from portal.extensions import db

    one, two = world
    login(client, one.admin, PASSWORD)
    token = csrf_token(client, "/drivers/")
    assert client.get(f"/drivers/vehicles/{one.vehicle}").status_code == 200
    response = client.post(
        f"/drivers/vehicles/{one.vehicle}",
        data={"plate": "京A12341", "tank": "455.5", "model": "东风", "csrf_token": token},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Vehicle, one.vehicle).tank_ml == 455_500
    assert client.get(f"/cards/{one.cards[1]}/assign").status_code == 200
    ok = client.post(
        f"/cards/{one.cards[1]}/assign",
        data={"nickname": "备用", "driver_id": one.driver, "vehicle_id": 0, "csrf_token": token},
    )
    assert ok.status_code == 302
    foreign = client.post(
        f"/cards/{one.cards[1]}/assign",
        data={"nickname": "x", "driver_id": two.driver, "vehicle_id": 0, "csrf_token": token},
    )
    assert foreign.status_code == 422
    with app.app_context():
        card = db.session.get(Card, one.cards[1])
        assert (card.nickname, card.driver_id, card.vehicle_id) == ("备用", one.driver, None)
    listing = client.get("/drivers/?q=司机").get_data(as_text=True)
    assert card.number[:4] in listing


def test_a_driver_without_sign_in_gets_one(app, client, world):
    from portal.drivers.models import Driver
    from portal.extensions import clock, db

    one, _ = world
    with app.app_context():
        driver = Driver(customer_id=one.customer, name="王五", created_at=clock().now())
        db.session.add(driver)
        db.session.commit()
        driver_id = driver.id
    login(client, one.admin, PASSWORD)
    page = client.get(f"/drivers/{driver_id}").get_data(as_text=True)
    assert f"/drivers/{driver_id}/login" in page
    token = csrf_token(client, "/drivers/")
    taken = client.post(f"/drivers/{driver_id}/login", data={"username": "driver1", "csrf_token": token})
    assert taken.status_code == 303
    made = client.post(f"/drivers/{driver_id}/login", data={"username": "wang.wu", "csrf_token": token})
    assert made.status_code == 200 and 'data-testid="password"' in made.get_data(as_text=True)
    again = client.post(f"/drivers/{driver_id}/login", data={"username": "wang.wu2", "csrf_token": token})
    assert again.status_code == 303
    assert f"/drivers/{driver_id}/login" not in client.get(f"/drivers/{driver_id}").get_data(as_text=True)
