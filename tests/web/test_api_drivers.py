"""Drivers and vehicles over the customer API: the drivers pages' filters, services and rules (a
one-time password shown once, plates per portal.drivers.validation), scoped to the key's customer,
refused without the `drivers` scope, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.builders import PASSWORD
from tests.web.api_cases import ACTIVE, audited, problem
from tests.web.api_support import bearer, make_key
from tests.web.conftest import login

API = "/api/v1"


@pytest.fixture
def h(api_world):
    return bearer(api_world.token)


@pytest.fixture
def read_only(app, api_world):
    return bearer(make_key(app, api_world.customer_id, ["read"], name="Dashboard"))


def _all(client, url: str, headers) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers).get_json()
        rows += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows


# --- drivers --------------------------------------------------------------------------------------------


def test_drivers_are_listed_with_the_pages_filters(client, h, api_world):
    drivers = _all(client, f"{API}/drivers?limit=3", h)
    assert [d["name"] for d in drivers] == ["张伟", "李娜", "王强", "刘洋"]
    assert drivers[0]["username"] == "zhang_wei" and drivers[1]["username"] is None
    assert ACTIVE in drivers[0]["card_numbers"]
    found = client.get(f"{API}/drivers?q=13800000003", headers=h).get_json()["data"]
    assert [d["name"] for d in found] == ["王强"]
    assert client.get(f"{API}/drivers?show=inactive", headers=h).get_json()["data"] == []
    assert client.get(f"{API}/drivers", headers=bearer(api_world.other_token)).get_json()["data"] == []
    problem(client.get(f"{API}/drivers?show=some", headers=h), 422, "validation_failed")


def test_a_driver_in_detail_and_another_customers_is_404(client, h, api_world):
    driver = client.get(f"{API}/drivers/{api_world.world.driver_id}", headers=h).get_json()
    assert driver["name"] == "张伟" and driver["active"] and driver["created_at"].endswith("+08:00")
    other = bearer(api_world.other_token)
    problem(client.get(f"{API}/drivers/{api_world.world.driver_id}", headers=other), 404, "driver_not_found")
    problem(client.get(f"{API}/drivers/{10**30}", headers=h), 404, "driver_not_found")
    problem(client.get(f"{API}/drivers/abc", headers=h), 404, "not_found")


def test_a_new_driver_gets_a_sign_in_with_a_one_time_password(app, client, h, read_only):
    body = {"name": "李四", "username": "li.si", "phone": "13911112222", "employee_no": "E-7"}
    problem(client.post(f"{API}/drivers", json=body, headers=read_only), 403, "scope_missing")
    answer = client.post(f"{API}/drivers", json=body, headers=h)
    assert answer.status_code == 201, answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    created = answer.get_json()
    assert created["username"] == "li.si" and created["driver"]["employee_no"] == "E-7"
    password = created["initial_password"]
    assert password not in str(audited(app, "drivers.add"))
    browser = app.test_client()
    assert login(browser, "li.si", password).status_code == 302
    gated = browser.get("/cards/mine")
    assert gated.status_code == 302 and gated.headers["Location"].endswith("/auth/password")
    (event,) = [e for e in audited(app, "drivers.add") if e.get("via") == "api"]
    assert event["api_key_name"] == "ERP" and event["driver_id"] == created["driver"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "王五", "username": "zhang_wei"}, 409, "username_taken"),
        ({"name": "王五", "username": "x"}, 422, "validation_failed"),
        ({"name": "王五", "username": "has space"}, 422, "validation_failed"),
        ({"name": "   ", "username": "wang.wu"}, 422, "validation_failed"),
        ({"name": "王五"}, 422, "validation_failed"),
        ({"name": "王五", "username": "wang.wu", "phone": "1" * 33}, 422, "validation_failed"),
        ({"name": "王五", "username": "wang.wu", "role": "admin"}, 422, "validation_failed"),
        ({"name": 5, "username": "wang.wu"}, 422, "validation_failed"),
    ],
)
def test_a_driver_refused_is_not_added(app, client, h, api_world, body, status, code):
    from portal.drivers.models import Driver
    from portal.extensions import db

    answer = problem(client.post(f"{API}/drivers", json=body, headers=h), status, code)
    assert "initial_password" not in answer
    with app.app_context():
        names = set(db.session.scalars(select(Driver.name).where(Driver.customer_id == api_world.customer_id)))
    assert names == {"张伟", "李娜", "王强", "刘洋"}


def test_change_deactivate_and_reactivate_a_driver(app, client, h, api_world):
    url = f"{API}/drivers/{api_world.world.driver_id}"
    changed = client.patch(url, json={"phone": "13900000000", "note": "夜班"}, headers=h)
    assert changed.status_code == 200
    assert changed.get_json()["phone"] == "13900000000" and changed.get_json()["name"] == "张伟"
    problem(client.patch(url, json={"name": ""}, headers=h), 422, "validation_failed")
    problem(client.patch(url, json={"name": None}, headers=h), 422, "validation_failed")
    problem(client.patch(url, json={"active": False}, headers=h), 422, "validation_failed")
    other = bearer(api_world.other_token)
    problem(client.patch(url, json={"phone": "1"}, headers=other), 404, "driver_not_found")
    problem(client.post(f"{url}/deactivate", json={}, headers=other), 404, "driver_not_found")

    gone = client.post(f"{url}/deactivate", json={}, headers=h)
    assert gone.status_code == 200 and not gone.get_json()["active"] and gone.get_json()["deactivated_at"]
    browser = app.test_client()
    login(browser, api_world.world.driver, PASSWORD)
    assert browser.get("/cards/mine").status_code == 302  # the sign-in no longer works
    assert client.get(f"{API}/cards/{ACTIVE}", headers=h).get_json()["status"] == "active"  # cards stay
    inactive = client.get(f"{API}/drivers?show=inactive", headers=h).get_json()["data"]
    assert [d["name"] for d in inactive] == ["张伟"]
    back = client.post(f"{url}/reactivate", json={}, headers=h)
    assert back.status_code == 200 and back.get_json()["active"]
    assert [e["via"] for e in audited(app, "drivers.deactivate") if "via" in e] == ["api"]


def test_reset_password_and_a_sign_in_for_a_driver_without_one(app, client, h, api_world):
    reset = client.post(f"{API}/drivers/{api_world.world.driver_id}/reset-password", json={}, headers=h)
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    password = reset.get_json()["initial_password"]
    assert login(app.test_client(), "zhang_wei", PASSWORD).status_code != 302  # the old one stops working
    assert login(app.test_client(), "zhang_wei", password).status_code == 302

    li_na = client.get(f"{API}/drivers?q=李娜", headers=h).get_json()["data"][0]
    problem(client.post(f"{API}/drivers/{li_na['id']}/reset-password", json={}, headers=h), 409, "no_login")
    problem(client.post(f"{API}/drivers/{li_na['id']}/login", json={"username": "zhang_wei"}, headers=h), 409,
            "username_taken")  # fmt: skip
    made = client.post(f"{API}/drivers/{li_na['id']}/login", json={"username": "li.na"}, headers=h)
    assert made.status_code == 201 and made.get_json()["driver"]["username"] == "li.na"
    assert login(app.test_client(), "li.na", made.get_json()["initial_password"]).status_code == 302
    problem(client.post(f"{API}/drivers/{li_na['id']}/login", json={"username": "li.na2"}, headers=h), 409,
            "login_not_possible")  # fmt: skip


# --- vehicles -------------------------------------------------------------------------------------------


def test_vehicles_are_listed_read_and_scoped(client, h, api_world):
    vehicles = _all(client, f"{API}/vehicles?limit=2", h)
    assert [v["plate"] for v in vehicles] == ["京A12345", "京B67890", "京C24680"]
    assert vehicles[0]["card_numbers"] == [ACTIVE] and vehicles[0]["tank_ml"] == 60_000
    assert [v["plate"] for v in client.get(f"{API}/vehicles?q=京b·67890", headers=h).get_json()["data"]] == ["京B67890"]
    one = client.get(f"{API}/vehicles/{vehicles[0]['id']}", headers=h).get_json()
    assert one == vehicles[0]
    other = bearer(api_world.other_token)
    problem(client.get(f"{API}/vehicles/{vehicles[0]['id']}", headers=other), 404, "vehicle_not_found")
    assert client.get(f"{API}/vehicles", headers=other).get_json()["data"] == []


def test_a_vehicle_is_added_with_the_plate_rules(app, client, h, read_only):
    body = {"plate": "京d·f1234", "tank_ml": 55_000, "model": "比亚迪 汉"}
    problem(client.post(f"{API}/vehicles", json=body, headers=read_only), 403, "scope_missing")
    added = client.post(f"{API}/vehicles", json=body, headers=h)
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["plate"] == "京DF1234"  # stored as portal.drivers.validation normalises it
    problem(client.post(f"{API}/vehicles", json=body, headers=h), 409, "plate_taken")
    assert [e["via"] for e in audited(app, "vehicles.add") if "via" in e] == ["api"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plate": "ABC123", "tank_ml": 50_000}, 422, "invalid_plate"),
        ({"plate": "京A1234O", "tank_ml": 50_000}, 422, "invalid_plate"),
        ({"plate": "京A54321", "tank_ml": 0}, 422, "validation_failed"),
        ({"plate": "京A54321", "tank_ml": -5}, 422, "validation_failed"),
        ({"plate": "京A54321", "tank_ml": 2_000_001}, 422, "validation_failed"),
        ({"plate": "京A54321", "tank_ml": 10**40}, 422, "validation_failed"),
        ({"plate": "京A54321", "tank_ml": "60 L"}, 422, "validation_failed"),
        ({"plate": "京A54321"}, 422, "validation_failed"),
        ({"plate": "", "tank_ml": 50_000}, 422, "validation_failed"),
    ],
)
def test_a_vehicle_refused_is_not_added(app, client, h, body, status, code):
    problem(client.post(f"{API}/vehicles", json=body, headers=h), status, code)
    assert len(_all(client, f"{API}/vehicles?show=all", h)) == 3


def test_change_and_deactivate_a_vehicle(client, h, api_world):
    vehicle = client.get(f"{API}/vehicles", headers=h).get_json()["data"][0]
    url = f"{API}/vehicles/{vehicle['id']}"
    changed = client.patch(url, json={"tank_ml": 70_000, "note": "换了油箱"}, headers=h).get_json()
    assert changed["tank_ml"] == 70_000 and changed["plate"] == "京A12345" and changed["note"] == "换了油箱"
    renamed = client.patch(url, json={"plate": "京a 54321"}, headers=h).get_json()
    assert renamed["plate"] == "京A54321" and renamed["tank_ml"] == 70_000
    problem(client.patch(url, json={"plate": "京B67890"}, headers=h), 409, "plate_taken")
    problem(client.patch(url, json={"plate": "nope"}, headers=h), 422, "invalid_plate")
    problem(client.patch(url, json={"tank_ml": None}, headers=h), 422, "validation_failed")
    problem(client.patch(url, json={"tank_ml": 0}, headers=h), 422, "validation_failed")
    other = bearer(api_world.other_token)
    problem(client.patch(url, json={"note": "x"}, headers=other), 404, "vehicle_not_found")
    gone = client.post(f"{url}/deactivate", json={}, headers=h).get_json()
    assert not gone["active"] and gone["card_numbers"] == [ACTIVE]
    assert [v["plate"] for v in client.get(f"{API}/vehicles?show=inactive", headers=h).get_json()["data"]] == [
        "京A54321"
    ]
    assert client.post(f"{url}/reactivate", json={}, headers=h).get_json()["active"]
