"""The terminal API over HTTP: answers, languages, and every kind of bad request (4xx JSON, no change)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.purchases.models import Purchase
from tests.builders import CARD_NUMBER, purse_balance, station_setup
from tests.conftest import T0

URL = "/api/terminal/v1/purchases"


@pytest.fixture
def world(app):
    from portal.extensions import db

    with app.app_context():
        w = station_setup(db.session, now=T0, purse_fen=100_000)
        db.session.commit()
        return {"key": w.key, "card_id": w.card.id, "far_key": w.far_key, "terminal_id": w.terminal.id}


def body(**changes):
    data = {
        "card_number": CARD_NUMBER,
        "product_code": "92",
        "litres_ml": 40_000,
        "unit_price_fen": 750,
        "amount_fen": 30_000,
        "terminal_seq": 1,
        "at": T0.isoformat(),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def post(client, key, json=None, data=None, url=URL):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if data is not None:
        return client.post(url, data=data, headers={**headers, "Content-Type": "application/json"})
    return client.post(url, json=json, headers=headers)


def state(app, world):
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        card = db.session.get(Card, world["card_id"])
        return purse_balance(db.session, card), db.session.scalar(select(func.count(Purchase.id)))


def test_approve_in_chinese_by_default(client, world):
    response = post(client, world["key"], body())
    assert response.status_code == 200
    data = response.get_json()
    assert data["approved"] is True and data["code"] == "approved"
    assert data["balance_fen"] == 70_000 and data["points"] == 300 and data["replayed"] is False
    assert data["message"] == "交易批准。"


def test_decline_in_english_when_asked(client, world):
    response = post(client, world["key"], body(litres_ml=200_000, amount_fen=150_000, language="en"))
    data = response.get_json()
    assert response.status_code == 200
    assert (data["approved"], data["code"]) == (False, "insufficient_balance")
    assert data["message"] == "Not enough money on the chip."


def test_replay_over_http(client, app, world):
    first = post(client, world["key"], body(terminal_seq=5)).get_json()
    again = post(client, world["key"], body(terminal_seq=5)).get_json()
    assert again["replayed"] is True and again["purchase_id"] == first["purchase_id"]
    assert state(app, world) == (70_000, 1)


def test_x_terminal_key_header_works(client, world):
    response = client.post(URL, json=body(), headers={"X-Terminal-Key": world["key"]})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "payload", "raw", "status", "code"),
    [
        (None, body(), None, 401, "unauthorized"),
        ("pt_not-a-real-key", body(), None, 401, "unauthorized"),
        ("KEY", None, "{not json", 400, "malformed_json"),
        ("KEY", None, "[1, 2]", 400, "malformed_json"),
        ("KEY", body(card_number=...), None, 400, "missing_field"),
        ("KEY", body(at=...), None, 400, "missing_field"),
        ("KEY", body(amount_fen=-30_000), None, 400, "out_of_range"),
        ("KEY", body(litres_ml=-40_000), None, 400, "out_of_range"),
        ("KEY", body(amount_fen="300.00"), None, 400, "bad_field"),
        ("KEY", body(amount_fen=300.0), None, 400, "bad_field"),
        ("KEY", body(amount_fen=True), None, 400, "bad_field"),
        ("KEY", body(at="yesterday"), None, 400, "bad_field"),
        ("KEY", body(at="2026-03-02T10:00:00"), None, 400, "bad_field"),
        ("KEY", body(amount_fen=30_002), None, 422, "amount_mismatch"),
        ("KEY", body(card_number="9030119999999999"), None, 404, "unknown_card"),
        ("KEY", body(product_code="XX"), None, 404, "unknown_product"),
        ("KEY", body(station_code="ST999999"), None, 404, "unknown_station"),
        ("KEY", body(station_code="ST310001"), None, 409, "station_mismatch"),
        ("KEY", body(at=(T0 - timedelta(hours=2)).isoformat()), None, 422, "clock_skew"),
        ("KEY", body(terminal_seq=2**63), None, 400, "out_of_range"),
        ("KEY", body(amount_fen=2**64 + 1), None, 400, "out_of_range"),
        ("KEY", body(litres_ml=10**30), None, 400, "out_of_range"),
        ("KEY", body(odometer_km=2**63), None, 400, "out_of_range"),
        ("KEY", body(at="0001-01-01T00:00:00+08:00"), None, 400, "out_of_range"),
        ("KEY", body(at="9999-12-31T23:59:59-08:00"), None, 400, "out_of_range"),
        ("KEY", body(at="0001-01-01T00:00:00Z"), None, 400, "out_of_range"),
        ("KEY", None, "[" * 30_000 + "]" * 30_000, 400, "malformed_json"),  # deep, under the body limit
        ("KEY", None, '{"a":' * 10_000 + "1" + "}" * 10_000, 400, "malformed_json"),
        ("KEY", body(card_number=None), None, 400, "missing_field"),
        ("KEY", body(product_code=""), None, 400, "missing_field"),
        ("KEY", body(card_number="9030\x0011"), None, 400, "bad_field"),
        ("KEY", body(card_number="9" * 33), None, 400, "bad_field"),
        ("KEY", body(plate=["京A12345"]), None, 400, "bad_field"),
        ("KEY", body(station_code=7), None, 400, "bad_field"),
        ("KEY", body(odometer_km=-1), None, 400, "out_of_range"),
        ("KEY", body(amount_fen=10_000_001), None, 400, "out_of_range"),
        ("KEY", body(at=7), None, 400, "bad_field"),
    ],
)
def test_bad_requests_get_json_4xx_and_change_nothing(client, app, world, key, payload, raw, status, code):
    key = world["key"] if key == "KEY" else key
    response = post(client, key, json=payload, data=raw)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert state(app, world) == (100_000, 0)


@pytest.mark.parametrize("field", ["purchase_id", "terminal_seq"])
def test_refunds_and_redemptions_bound_their_integers(client, app, world, field):
    refund = {"purchase_id": 1, "terminal_seq": 9, field: 2**63}
    response = post(client, world["key"], json=refund, url="/api/terminal/v1/refunds")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "out_of_range"
    redeem = {"card_number": CARD_NUMBER, "points": 2**63, "terminal_seq": 9}
    response = post(client, world["key"], json=redeem, url="/api/terminal/v1/redemptions")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "out_of_range"


def test_revoked_key_is_refused(client, app, world):
    from portal.extensions import clock, db
    from portal.stations.models import Terminal
    from portal.stations.terminals import revoke_terminal

    with app.app_context():
        revoke_terminal(db.session, db.session.get(Terminal, world["terminal_id"]), now=clock().now())
        db.session.commit()
    response = post(client, world["key"], body())
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_null_and_empty_optional_fields_count_as_absent_and_times_may_be_lowercase(client, world):
    payload = body(plate=None, odometer_km=None, station_code="", at=T0.isoformat().replace("T", "t"))
    response = post(client, world["key"], payload)
    assert response.status_code == 200 and response.get_json()["approved"] is True


def test_a_refusal_names_the_first_bad_field_in_the_order_of_the_body(client, world):
    response = post(client, world["key"], body(product_code=None, amount_fen="x", at="yesterday"))
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["detail"]) == (400, "missing_field", "product_code is required")


def test_error_message_in_english(client, world):
    response = post(client, world["key"], body(card_number="9030119999999999", language="en"))
    assert response.get_json()["error"]["message"] == "No card has this number."


def test_refund_and_redeem_over_http(client, app, world):
    from portal.cards.models import Card
    from portal.extensions import db
    from tests.builders import fund_card

    with app.app_context():
        card = db.session.get(Card, world["card_id"])

        fund_card(db.session, card, purse=100_000, now=T0, key="more")
        db.session.commit()
    purchase = post(client, world["key"], body(litres_ml=200_000, amount_fen=150_000, terminal_seq=1))
    assert purchase.status_code == 200, purchase.get_json()
    refund = post(client, world["key"], {"purchase_id": 999, "terminal_seq": 2}, url="/api/terminal/v1/refunds")
    assert refund.status_code == 404
    redeem = post(
        client,
        world["key"],
        {"card_number": CARD_NUMBER, "points": 1000, "terminal_seq": 3},
        url="/api/terminal/v1/redemptions",
    )
    assert redeem.status_code == 200 and redeem.get_json()["value_fen"] == 1000
    pid = purchase.get_json()["purchase_id"]
    refund = post(client, world["far_key"], {"purchase_id": pid, "terminal_seq": 4}, url="/api/terminal/v1/refunds")
    assert refund.status_code == 404  # another station's terminal
    refund = post(client, world["key"], {"purchase_id": pid, "terminal_seq": 4}, url="/api/terminal/v1/refunds")
    assert refund.status_code == 200 and refund.get_json()["kind"] == "refund"


def test_api_needs_no_csrf_and_ignores_cookies(client, world):
    client.set_cookie("portal_session", "whatever")
    assert post(client, None, body()).status_code == 401


_TIMES = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2026-03-02T10:00:00", "2026-02-30T00:00:00Z", "")


@pytest.mark.parametrize(
    "url", ["/api/terminal/v1/purchases", "/api/terminal/v1/refunds", "/api/terminal/v1/redemptions"]
)
def test_fuzzed_bodies_never_cause_a_server_error(client, world, url):
    """Hypothesis: any JSON value in any field of any terminal API body answers < 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62), st.floats(), st.text(max_size=40),
        st.sampled_from(_TIMES), st.sampled_from([CARD_NUMBER, "92", "ST110001"]),
    )  # fmt: skip
    values = st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner), max_leaves=6
    )
    fields = st.sampled_from(
        sorted(body()) + ["purchase_id", "points", "station_code", "plate", "odometer_km", "language"]
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(changes=st.dictionaries(fields, values, max_size=4))
    def probe(changes):
        payload = {**body(terminal_seq=9, purchase_id=1, points=1000), **changes}
        response = post(client, world["key"], json=payload, url=url)
        assert response.status_code < 500, (url, payload, response.status_code)

    probe()


def test_an_oversized_body_is_not_read_even_to_choose_the_language(client, world):
    """A 413 answers in the default language: the body (which asks for English) is never parsed."""
    big = '{"language": "en", "pad": "' + "x" * (70 * 1024) + '"}'
    response = post(client, world["key"], data=big)
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "body_too_large" and error["message"] == "请求正文过大。"
