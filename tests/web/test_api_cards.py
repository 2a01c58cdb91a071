"""Cards over the customer API: list and detail, assignment, balances, controls and templates, loss
report / cancel / replacement. Each through the same services as the pages, scoped to the key's
customer (another customer's card is 404), refused without the `cards` scope, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.web.api_cases import ACTIVE, ACTIVE_2, CLOSED, LOST, audited, funded_card, problem
from tests.web.api_support import bearer, make_key

API = "/api/v1"


@pytest.fixture
def h(api_world):
    return bearer(api_world.token)


@pytest.fixture
def read_only(app, api_world):
    return bearer(make_key(app, api_world.customer_id, ["read"], name="Dashboard"))


def _station_ids(app) -> list[int]:
    from portal.extensions import db
    from portal.reference.models import Station

    with app.app_context():
        return list(db.session.scalars(select(Station.id).order_by(Station.code)))


# --- list, detail ---------------------------------------------------------------------------------------


def test_the_list_filters_as_the_cards_page_and_pages_with_a_cursor(client, h):
    lost = client.get(f"{API}/cards?status=lost", headers=h).get_json()["data"]
    assert [c["number"] for c in lost] == [LOST]
    by_nickname = client.get(f"{API}/cards?q=2号车", headers=h).get_json()["data"]
    assert [c["number"] for c in by_nickname] == [ACTIVE_2]
    by_plate = client.get(f"{API}/cards?q=京A12345", headers=h).get_json()["data"]
    assert [c["number"] for c in by_plate] == [ACTIVE]
    seen, url = [], f"{API}/cards?limit=3"
    while url:
        page = client.get(url, headers=h).get_json()
        assert len(page["data"]) <= 3
        seen += [c["number"] for c in page["data"]]
        url = f"{API}/cards?limit=3&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert len(seen) == 7 and seen == sorted(seen)
    problem(client.get(f"{API}/cards?cursor=forged", headers=h), 400, "bad_cursor")


def test_a_card_in_detail_and_another_customers_is_404(client, h, api_world):
    card = client.get(f"{API}/cards/{ACTIVE}", headers=h).get_json()
    assert card["status"] == "active" and card["nickname"] == "1号车" and card["vehicle_plate"] == "京A12345"
    assert card["issued_at"].endswith("+08:00")
    problem(client.get(f"{API}/cards/{ACTIVE}", headers=bearer(api_world.other_token)), 404, "card_not_found")
    problem(client.get(f"{API}/cards/9031000200000001", headers=h), 404, "card_not_found")  # the other's main card
    problem(client.get(f"{API}/cards/{'9' * 5000}", headers=h), 404, "card_not_found")


# --- assignment -------------------------------------------------------------------------------------------


def test_assign_a_nickname_driver_and_vehicle(app, client, h, api_world, read_only):
    answer = client.patch(f"{API}/cards/{ACTIVE}", json={"nickname": "夜班车", "vehicle_id": None}, headers=h)
    assert answer.status_code == 200, answer.get_json()
    card = answer.get_json()
    assert card["nickname"] == "夜班车" and card["vehicle_id"] is None and card["driver_id"] is not None
    (event,) = audited(app, "cards.assign")[-1:]
    assert event["card"] == ACTIVE
    assert audited(app, "cards.assign")  # the service's own event
    api_events = [e for e in audited(app, "cards.assign") if e.get("via") == "api"]
    assert api_events and api_events[-1]["api_key_name"] == "ERP"
    problem(client.patch(f"{API}/cards/{CLOSED}", json={"nickname": "x"}, headers=h), 409, "card_not_active")
    problem(client.patch(f"{API}/cards/{ACTIVE}", json={"driver_id": 10**6}, headers=h), 422, "not_owned")
    problem(client.patch(f"{API}/cards/{ACTIVE}", json={"driver_id": "one"}, headers=h), 422, "validation_failed")
    problem(client.patch(f"{API}/cards/{ACTIVE}", json={"colour": "red"}, headers=h), 422, "validation_failed")
    problem(client.patch(f"{API}/cards/{ACTIVE}", json={"nickname": "x"}, headers=read_only), 403, "scope_missing")
    other = bearer(api_world.other_token)
    problem(client.patch(f"{API}/cards/{ACTIVE}", json={"nickname": "x"}, headers=other), 404, "card_not_found")


# --- balances -------------------------------------------------------------------------------------------


def test_balances_as_the_card_page_shows_them(app, client, clock, h, api_world):
    number = funded_card(app, api_world.customer_id, reserve=300_00, purse=45_67, now=clock.now())
    body = client.get(f"{API}/cards/{number}/balances", headers=h).get_json()
    assert body == {
        "card_number": number, "reserve_fen": 300_00, "purse_fen": 45_67, "pending_load_fen": 0, "points": 0,
        "last_synced_at": None,
    }  # fmt: skip
    unopened = client.get(f"{API}/cards/{ACTIVE}/balances", headers=h).get_json()
    assert unopened["reserve_fen"] is None and unopened["purse_fen"] is None
    other = bearer(api_world.other_token)
    problem(client.get(f"{API}/cards/{number}/balances", headers=other), 404, "card_not_found")


# --- controls -------------------------------------------------------------------------------------------


def test_controls_are_read_and_changed_with_the_pages_rules(app, client, h):
    url = f"{API}/cards/{ACTIVE}/controls"
    first = client.get(url, headers=h).get_json()
    assert first["version"] == 0 and first["daily_amount_limit_fen"] is None and not first["pending_sync"]
    stations = _station_ids(app)
    changed = client.patch(
        url, json={"daily_amount_limit_fen": 500_00, "hours": "06:00-22:00", "allowed_station_ids": stations[:2],
                   "plate_lock": "京a·12345"}, headers=h,
    )  # fmt: skip
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["version"] == 1 and body["pending_sync"] and body["synced_version"] is None
    assert body["daily_amount_limit_fen"] == 500_00 and body["hours"] == "06:00-22:00"
    assert body["plate_lock"] == "京A12345" and body["allowed_station_ids"] == stations[:2]
    # a field left out keeps its value; the same values again do not need a new sync
    again = client.patch(url, json={"hours": "06:00-22:00"}, headers=h).get_json()
    assert again["version"] == 1 and again["daily_amount_limit_fen"] == 500_00
    lifted = client.patch(url, json={"daily_amount_limit_fen": None, "hours": None}, headers=h).get_json()
    assert lifted["version"] == 2 and lifted["daily_amount_limit_fen"] is None and lifted["hours"] is None
    assert lifted["allowed_station_ids"] == stations[:2]
    assert client.get(f"{API}/cards/{ACTIVE}", headers=h).get_json()["controls_version"] == 2
    assert [e["version"] for e in audited(app, "cards.set_controls") if e.get("via") == "api"] == [1, 1, 2]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"hours": "6 to 10"}, 422, "validation_failed", "body.hours"),
        ({"hours": "10:00-10:00"}, 422, "validation_failed", "body.hours"),
        ({"daily_amount_limit_fen": 0}, 422, "validation_failed", "body.daily_amount_limit_fen"),
        ({"daily_amount_limit_fen": -5}, 422, "validation_failed", "body.daily_amount_limit_fen"),
        ({"daily_amount_limit_fen": 10**30}, 422, "validation_failed", "body.daily_amount_limit_fen"),
        ({"daily_amount_limit_fen": 12.5}, 422, "validation_failed", "body.daily_amount_limit_fen"),
        ({"daily_count_limit": 1001}, 422, "validation_failed", "body.daily_count_limit"),
        ({"allowed_station_ids": list(range(1, 12))}, 422, "validation_failed", "body.allowed_station_ids"),
        ({"allowed_station_ids": [10**30]}, 422, "validation_failed", "body.allowed_station_ids.0"),
        ({"allowed_region_ids": [1, 1]}, 422, "invalid_controls", "body.allowed_region_ids"),
        ({"allowed_station_ids": [999_999]}, 422, "not_owned", None),
        ({"allowed_products": ["no-such"]}, 422, "not_owned", None),
        ({"plate_lock": "x" * 17}, 422, "validation_failed", "body.plate_lock"),
        ({"speed_limit": 80}, 422, "validation_failed", "body.speed_limit"),
    ],
)
def test_controls_refused_change_nothing(client, h, body, status, code, field):
    url = f"{API}/cards/{ACTIVE}/controls"
    answer = problem(client.patch(url, json=body, headers=h), status, code)
    if field:
        assert field in {e["field"] for e in answer["errors"]}, answer
    assert client.get(url, headers=h).get_json()["version"] == 0


def test_controls_of_a_lost_card_cannot_change_and_others_cards_are_404(client, h, api_world, read_only):
    problem(client.patch(f"{API}/cards/{LOST}/controls", json={"daily_count_limit": 2}, headers=h), 409,
            "card_not_active")  # fmt: skip
    url = f"{API}/cards/{ACTIVE}/controls"
    problem(client.get(url, headers=bearer(api_world.other_token)), 404, "card_not_found")
    problem(client.patch(url, json={}, headers=bearer(api_world.other_token)), 404, "card_not_found")
    problem(client.patch(url, json={"daily_count_limit": 2}, headers=read_only), 403, "scope_missing")
    assert client.get(url, headers=read_only).status_code == 200


# --- templates ------------------------------------------------------------------------------------------


@pytest.fixture
def template_id(app, clock, api_world):
    from portal.cards import services
    from portal.cards.controls import Controls
    from portal.extensions import db

    with app.app_context():
        template = services.save_template(
            db.session, api_world.customer_id, "夜班", Controls(daily_count_limit=3, hours_start_min=1320,
            hours_end_min=360), actor_id=None, now=clock.now(),
        )  # fmt: skip
        db.session.commit()
        return template.id


def test_templates_are_listed_and_applied_to_many_cards(app, client, h, api_world, template_id):
    (listed,) = client.get(f"{API}/control-templates", headers=h).get_json()["data"]
    assert listed["id"] == template_id and listed["name"] == "夜班" and listed["hours"] == "22:00-06:00"
    assert listed["card_numbers"] == []
    assert client.get(f"{API}/control-templates", headers=bearer(api_world.other_token)).get_json()["data"] == []
    url = f"{API}/control-templates/{template_id}/apply"
    answer = client.post(url, json={"card_numbers": [ACTIVE, ACTIVE_2, ACTIVE]}, headers=h)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"template_id": template_id, "applied": 2, "changed": 2}
    controls = client.get(f"{API}/cards/{ACTIVE_2}/controls", headers=h).get_json()
    assert controls["daily_count_limit"] == 3 and controls["template_id"] == template_id and controls["version"] == 1
    again = client.post(url, json={"card_numbers": [ACTIVE]}, headers=h).get_json()
    assert again == {"template_id": template_id, "applied": 1, "changed": 0}
    detail = client.get(f"{API}/control-templates/{template_id}", headers=h).get_json()
    assert detail["card_numbers"] == [ACTIVE, ACTIVE_2]
    assert [e["cards"] for e in audited(app, "cards.apply_template")] == [[ACTIVE, ACTIVE_2], [ACTIVE]]


def test_applying_a_template_is_all_or_nothing(client, h, api_world, template_id):
    url = f"{API}/control-templates/{template_id}/apply"
    number = "9030000100000112"
    problem(client.post(url, json={"card_numbers": [number, LOST]}, headers=h), 409, "card_not_active")
    body = problem(client.post(url, json={"card_numbers": [number, "9031000200000001"]}, headers=h), 404,
                   "card_not_found")  # fmt: skip
    assert "9031000200000001" in body["detail"]
    problem(client.post(url, json={"card_numbers": []}, headers=h), 422, "validation_failed")
    assert client.get(f"{API}/cards/{number}/controls", headers=h).get_json()["version"] == 0
    other = bearer(api_world.other_token)
    problem(client.post(url, json={"card_numbers": [number]}, headers=other), 404, "template_not_found")
    problem(client.get(f"{API}/control-templates/{template_id}", headers=other), 404, "template_not_found")
    problem(client.get(f"{API}/control-templates/{10**30}", headers=h), 404, "template_not_found")


# --- loss, cancel, replacement ----------------------------------------------------------------------------


def test_report_a_card_lost_then_cancel(app, client, h, api_world, read_only):
    problem(client.get(f"{API}/cards/{ACTIVE}/loss", headers=h), 404, "loss_report_not_found")
    problem(client.post(f"{API}/cards/{ACTIVE}/loss", json={"reason": "stolen"}, headers=read_only), 403,
            "scope_missing")  # fmt: skip
    problem(client.post(f"{API}/cards/{ACTIVE}/loss", json={"reason": "eaten"}, headers=h), 422, "validation_failed")
    reported = client.post(f"{API}/cards/{ACTIVE}/loss", json={"reason": "stolen", "note": "在服务区被盗"}, headers=h)
    assert reported.status_code == 201, reported.get_json()
    report = reported.get_json()
    assert report["status"] == "open" and report["card_number"] == ACTIVE and report["reason"] == "stolen"
    assert report["effective_at"] > report["reported_at"] and report["effective_at"].endswith("+08:00")
    assert client.get(f"{API}/cards/{ACTIVE}", headers=h).get_json()["status"] == "lost"
    assert client.get(f"{API}/cards/{ACTIVE}/loss", headers=h).get_json() == report
    problem(client.post(f"{API}/cards/{ACTIVE}/loss", json={"reason": "lost"}, headers=h), 409, "already_reported")
    problem(client.post(f"{API}/cards/{CLOSED}/loss", json={"reason": "lost"}, headers=h), 409, "card_not_active")
    other = bearer(api_world.other_token)
    problem(client.post(f"{API}/cards/{ACTIVE}/loss/cancel", json={}, headers=other), 404, "card_not_found")

    cancelled = client.post(f"{API}/cards/{ACTIVE}/loss/cancel", json={}, headers=h)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.get(f"{API}/cards/{ACTIVE}", headers=h).get_json()["status"] == "active"
    problem(client.post(f"{API}/cards/{ACTIVE}/loss/cancel", json={}, headers=h), 409, "report_not_open")
    problem(client.post(f"{API}/cards/{ACTIVE}/loss/cancel", json={"why": 1}, headers=h), 422, "validation_failed")
    assert [e["via"] for e in audited(app, "cards.cancel_loss") if "via" in e] == ["api"]


def test_loss_reports_are_listed_newest_first_a_page_at_a_time(client, clock, h, api_world):
    for number in (ACTIVE, ACTIVE_2, "9030000100000112"):
        assert client.post(f"{API}/cards/{number}/loss", json={"reason": "lost"}, headers=h).status_code == 201
        clock.advance(timedelta(minutes=5))
    client.post(f"{API}/cards/{ACTIVE}/loss/cancel", json={}, headers=h)
    first = client.get(f"{API}/loss-reports?limit=2", headers=h).get_json()
    assert [r["card_number"] for r in first["data"]] == ["9030000100000112", ACTIVE_2] and first["next_cursor"]
    rest = client.get(f"{API}/loss-reports?limit=2&cursor={first['next_cursor']}", headers=h).get_json()
    assert [(r["card_number"], r["status"]) for r in rest["data"]] == [(ACTIVE, "cancelled")]
    assert rest["next_cursor"] is None
    assert client.get(f"{API}/loss-reports", headers=bearer(api_world.other_token)).get_json()["data"] == []
    problem(client.get(f"{API}/loss-reports?cursor={first['next_cursor'][:-2]}", headers=h), 400, "bad_cursor")


def test_replacement_waits_then_moves_the_money_once(app, client, clock, h, api_world):
    number = funded_card(app, api_world.customer_id, reserve=300_00, purse=45_67, now=clock.now())
    url = f"{API}/cards/{number}/replace"
    problem(client.post(url, json={}, headers=h), 400, "idempotency_key_missing")
    problem(client.post(url, json={}, headers={**h, "Idempotency-Key": "r-0"}), 404, "loss_report_not_found")
    assert client.post(f"{API}/cards/{number}/loss", json={"reason": "lost"}, headers=h).status_code == 201
    early = problem(client.post(url, json={}, headers={**h, "Idempotency-Key": "r-1"}), 409, "replacement_too_early")
    assert "replaced yet" in early["detail"]

    clock.advance(timedelta(days=7))
    first = client.post(url, json={}, headers={**h, "Idempotency-Key": "r-2"})
    assert first.status_code == 201, first.get_json()
    new = first.get_json()
    assert new["replaces_card_number"] == number and new["status"] == "active" and new["number"] != number
    again = client.post(url, json={}, headers={**h, "Idempotency-Key": "r-2"})
    assert again.status_code == 201 and again.get_json() == new and again.headers["Idempotent-Replayed"] == "true"
    problem(client.post(url, json={"x": 1}, headers={**h, "Idempotency-Key": "r-2"}), 422, "validation_failed")
    problem(client.post(url, json={}, headers={**h, "Idempotency-Key": "r-3"}), 409, "report_not_open")

    moved = client.get(f"{API}/cards/{new['number']}/balances", headers=h).get_json()
    assert (moved["reserve_fen"], moved["purse_fen"]) == (300_00, 45_67)
    old = client.get(f"{API}/cards/{number}/balances", headers=h).get_json()
    assert (old["reserve_fen"], old["purse_fen"]) == (0, 0)
    assert client.get(f"{API}/cards/{number}", headers=h).get_json()["status"] == "closed"
    assert client.get(f"{API}/cards/{number}/loss", headers=h).get_json()["replacement_card_number"] == new["number"]
    (event,) = [e for e in audited(app, "cards.replace") if e.get("via") == "api"]
    assert event["new_card"] == new["number"] and event["api_key_name"] == "ERP"


@pytest.mark.postgres
@pytest.mark.slow
def test_two_copies_of_a_replacement_at_once_issue_one_card(app, clock, h, api_world):
    """Two threads, each its own connection, send the same replacement with the same key: one card."""
    import threading

    from portal.cards.models import Card
    from portal.extensions import db

    numbers = [funded_card(app, api_world.customer_id, reserve=100_00 + n, purse=0, now=clock.now()) for n in range(5)]
    client = app.test_client()
    for number in numbers:
        assert client.post(f"{API}/cards/{number}/loss", json={"reason": "lost"}, headers=h).status_code == 201
    clock.advance(timedelta(days=7))
    for n, number in enumerate(numbers):
        start, answers = threading.Barrier(2), [None, None]

        def run(i: int, number=number, n=n, start=start, answers=answers) -> None:
            start.wait(timeout=30)
            response = app.test_client().post(
                f"{API}/cards/{number}/replace", json={}, headers={**h, "Idempotency-Key": f"race-{n}"}
            )
            answers[i] = (response.status_code, response.get_json(force=True))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers[0] == answers[1] and answers[0][0] == 201, answers
    with app.app_context():
        old_ids = select(Card.id).where(Card.number.in_(numbers))
        issued = db.session.scalar(select(func.count(Card.id)).where(Card.replaces_card_id.in_(old_ids)))
    assert issued == len(numbers)


def test_the_main_card_can_be_reported_lost_and_found_again_as_on_the_loss_page(app, client, h, api_world):
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        main = db.session.scalar(
            select(Card.number).where(Card.customer_id == api_world.customer_id, Card.role == "main")
        )
    assert client.get(f"{API}/cards/{main}", headers=h).status_code == 404  # the card list is of sub-cards
    reported = client.post(f"{API}/cards/{main}/loss", json={"reason": "lost"}, headers=h)
    assert reported.status_code == 201, reported.get_json()
    assert client.get(f"{API}/cards/{main}/loss", headers=h).get_json()["status"] == reported.get_json()["status"]
    assert client.post(f"{API}/cards/{main}/loss/cancel", json={}, headers=h).status_code == 200
    other = bearer(api_world.other_token)
    problem(client.post(f"{API}/cards/{main}/loss", json={"reason": "lost"}, headers=other), 404, "card_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"daily_amount_limit_fen": 1e3}, {"daily_amount_limit_fen": 1000.0}, {"daily_amount_limit_fen": "1000"},
        {"per_purchase_limit_fen": True}, {"daily_count_limit": "3"}, {"daily_litres_limit_ml": 5.0},
        {"allowed_region_ids": ["1"]},
    ],
)  # fmt: skip
def test_money_and_counts_are_strict_integers(client, h, body):
    url = f"{API}/cards/{ACTIVE}/controls"
    field = next(iter(body))
    answer = problem(client.patch(url, json=body, headers=h), 422, "validation_failed")
    assert any(e["field"].startswith(f"body.{field}") for e in answer["errors"]), answer
    assert client.get(url, headers=h).get_json()["version"] == 0
