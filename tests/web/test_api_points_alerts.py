"""Points (balance, redemption) and anomaly alerts (list, acknowledge) over the customer API, with
the rewards and alerts pages' rules; and a bounded schemathesis run over the money endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.web.api_money_support import (
    CARD_1,
    CARD_2,
    LOST,
    OTHER_MAIN,
    add_alert,
    audit_events,
    give_points,
    headers,
    in_app,
    owned_key,
    problem,
)

REDEEM = "/api/v1/points/redemptions"


@pytest.fixture
def pts(app, api_world):
    """2,500 points on CARD_1, 1,000 on the lost card, and a key of the showcase admin."""
    in_app(app, lambda s: give_points(s, CARD_1, 2_500))
    in_app(app, lambda s: give_points(s, LOST, 1_000))
    api_world.owned = owned_key(app, api_world.world)
    return api_world


def _redeem(client, token, number=CARD_1, points=1_000, key="r-1"):
    return client.post(REDEEM, json={"card_number": number, "points": points}, headers=headers(token, key))


def _points_of(client, token) -> dict[str, int]:
    body = client.get("/api/v1/points", headers=headers(token)).get_json()
    return {card["card_number"]: card["available_points"] for card in body["data"]}


# --- points -----------------------------------------------------------------------------------------------


def test_points_list_each_cards_available_points(client, pts):
    body = client.get("/api/v1/points", headers=headers(pts.token)).get_json()
    assert body["block_points"] == 1_000 and body["block_value_fen"] == 1_000 and body["customer_points"] == 0
    shown = {card["card_number"]: card for card in body["data"]}
    assert shown[CARD_1]["available_points"] == 2_500 and shown[LOST]["available_points"] == 1_000
    assert shown[pts.world.main_card_number]["role"] == "main"  # as the redemption page offers it
    assert "9030000100000116" not in shown  # closed cards are not offered
    first = client.get("/api/v1/points?limit=3", headers=headers(pts.token)).get_json()
    rest = client.get(f"/api/v1/points?limit=200&cursor={first['next_cursor']}", headers=headers(pts.token))
    assert first["data"] + rest.get_json()["data"] == body["data"]
    other = client.get("/api/v1/points", headers=headers(pts.other_token)).get_json()["data"]
    assert [card["card_number"] for card in other] == [OTHER_MAIN]


def test_a_redemption_spends_whole_blocks_once(app, client, pts):
    response = _redeem(client, pts.owned, points=2_000)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["card_number"], body["points"], body["value_fen"], body["points_left"]) == (CARD_1, 2_000, 2_000, 500)
    assert body["channel"] == "portal" and body["redeemed_at"].endswith("+08:00")
    again = _redeem(client, pts.owned, points=2_000)
    assert again.get_json() == body and again.headers["Idempotent-Replayed"] == "true"
    assert _points_of(client, pts.token)[CARD_1] == 500
    got = client.get(f"{REDEEM}/{body['id']}", headers=headers(pts.token)).get_json()
    assert {k: v for k, v in got.items() if k != "points_left"} == {k: v for k, v in body.items() if k != "points_left"}
    problem(client.get(f"{REDEEM}/{body['id']}", headers=headers(pts.other_token)), 404, "redemption_not_found")
    (event,) = audit_events(app, "api.points.redeem")
    assert event[2]["api_key_name"] == "ERP" and event[2]["points"] == 2_000
    assert len(audit_events(app, "points.redeem")) == 1


@pytest.mark.parametrize(
    ("number", "points", "status", "code"),
    [
        (CARD_1, 1_500, 422, "not_whole_blocks"),
        (CARD_1, 3_000, 409, "insufficient_points"),
        (CARD_2, 1_000, 409, "insufficient_points"),
        (LOST, 1_000, 409, "card_blocked"),
        (OTHER_MAIN, 1_000, 404, "card_not_found"),
        ("0000", 1_000, 404, "card_not_found"),
    ],
)
def test_refused_redemptions_spend_nothing(client, pts, number, points, status, code):
    problem(_redeem(client, pts.owned, number, points), status, code)
    assert _points_of(client, pts.token)[CARD_1] == 2_500


@pytest.mark.parametrize("points", [0, -1_000, "1000", 1000.0, True, 10**12, None])
def test_bad_points_are_422(client, pts, points):
    problem(_redeem(client, pts.owned, points=points), 422, "validation_failed")


def test_redemption_scope_key_and_owner(app, client, pts):
    funds_only = owned_key(app, pts.world, ["read", "funds"])
    problem(_redeem(client, funds_only), 403, "scope_missing")
    problem(_redeem(client, pts.token), 409, "key_without_owner")
    problem(client.post(REDEEM, json={"card_number": CARD_1, "points": 1_000}, headers=headers(pts.owned)), 400,
            "idempotency_key_missing")  # fmt: skip
    assert _points_of(client, pts.token)[CARD_1] == 2_500


# --- alerts -----------------------------------------------------------------------------------------------


@pytest.fixture
def alerts(app, api_world, clock):
    """Three alerts of the showcase customer, a minute apart (oldest first), one of another customer's."""
    made = []
    for n, (number, kind) in enumerate(
        ((CARD_1, "tank_overfill"), (CARD_2, "outside_hours"), (CARD_1, "too_many_fills"))
    ):
        clock.advance(timedelta(minutes=1))
        made.append(in_app(app, lambda s, number=number, kind=kind, n=n: add_alert(s, api_world.world, number,
                                                                                    kind=kind, dedupe=str(n)).id))  # fmt: skip

    def other(session):
        from portal.alerts.models import Alert
        from tests.web.api_money_support import card

        alert = Alert(customer_id=api_world.other_customer_id, card_id=card(session, OTHER_MAIN).id,
                      kind="outside_region", dedupe_key="other", detail={}, created_at=clock.now())  # fmt: skip
        session.add(alert)
        session.flush()
        return alert.id

    api_world.alert_ids, api_world.other_alert = made, in_app(app, other)
    api_world.owned = owned_key(app, api_world.world)
    return api_world


def _alert_ids(client, token, query: str = "") -> list[int]:
    return [a["id"] for a in client.get(f"/api/v1/alerts?{query}", headers=headers(token)).get_json()["data"]]


def test_alerts_list_newest_first_with_the_pages_filters(client, alerts):
    a, b, c = alerts.alert_ids
    body = client.get("/api/v1/alerts", headers=headers(alerts.token)).get_json()
    assert [x["id"] for x in body["data"]] == [c, b, a] and body["total"] == 3
    first = body["data"][2]
    assert first["kind"] == "tank_overfill" and first["card_number"] == CARD_1
    assert first["detail"] == {"litres_ml": 90_000, "tank_ml": 60_000} and first["acknowledged_at"] is None
    assert first["created_at"].endswith("+08:00")
    assert _alert_ids(client, alerts.token, "kind=outside_hours") == [b]
    assert _alert_ids(client, alerts.token, f"card_number={CARD_1}") == [c, a]
    page = client.get("/api/v1/alerts?limit=2", headers=headers(alerts.token)).get_json()
    rest = client.get(f"/api/v1/alerts?limit=2&cursor={page['next_cursor']}", headers=headers(alerts.token))
    assert [x["id"] for x in page["data"] + rest.get_json()["data"]] == [c, b, a] and page["total"] == 3
    assert _alert_ids(client, alerts.other_token) == [alerts.other_alert]
    problem(client.get("/api/v1/alerts?kind=fire", headers=headers(alerts.token)), 422, "validation_failed")
    problem(client.get("/api/v1/alerts?status=closed", headers=headers(alerts.token)), 422, "validation_failed")
    problem(client.get(f"/api/v1/alerts?card_number={OTHER_MAIN}", headers=headers(alerts.token)), 404,
            "card_not_found")  # fmt: skip


def test_acknowledging_takes_an_alert_off_the_open_list(app, client, alerts):
    a, b, c = alerts.alert_ids
    url = f"/api/v1/alerts/{b}/acknowledge"
    response = client.post(url, json={}, headers=headers(alerts.owned))
    assert response.status_code == 200 and response.get_json()["acknowledged_at"].endswith("+08:00")
    assert _alert_ids(client, alerts.token) == [c, a]
    assert _alert_ids(client, alerts.token, "status=all") == [c, b, a]
    again = client.post(url, json={}, headers=headers(alerts.owned))
    assert again.get_json() == response.get_json()  # the first acknowledgement stays
    assert len(audit_events(app, "alert.acknowledge")) == len(audit_events(app, "api.alert.acknowledge")) == 1
    assert client.get(f"/api/v1/alerts/{b}", headers=headers(alerts.token)).get_json() == response.get_json()


def test_acknowledging_refusals(app, client, alerts):
    a = alerts.alert_ids[0]
    read_only = owned_key(app, alerts.world, ["read"])
    problem(client.post(f"/api/v1/alerts/{a}/acknowledge", json={}, headers=headers(read_only)), 403, "scope_missing")
    problem(client.post(f"/api/v1/alerts/{a}/acknowledge", json={}, headers=headers(alerts.token)), 409,
            "key_without_owner")  # fmt: skip
    problem(client.post(f"/api/v1/alerts/{alerts.other_alert}/acknowledge", json={}, headers=headers(alerts.owned)),
            404, "alert_not_found")  # fmt: skip
    problem(client.get(f"/api/v1/alerts/{alerts.other_alert}", headers=headers(alerts.token)), 404, "alert_not_found")
    for bad in ("99999999999999999999", "x", "0", "-3"):
        problem(client.post(f"/api/v1/alerts/{bad}/acknowledge", json={}, headers=headers(alerts.owned)), 404,
                "alert_not_found")  # fmt: skip
    problem(client.post(f"/api/v1/alerts/{a}/acknowledge", headers=headers(alerts.owned)), 415,
            "unsupported_media_type")  # fmt: skip
    problem(client.post(f"/api/v1/alerts/{a}/acknowledge", json={"x": 1}, headers=headers(alerts.owned)), 422,
            "validation_failed")  # fmt: skip
    assert _alert_ids(client, alerts.token) == alerts.alert_ids[::-1]
