"""Chip loads over the customer API: request (the reserve is held, the load waits), cancel, list and
get with their state, as the chip load page does them; and two copies of one allocation at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.web.api_money_support import (
    CARD_1,
    CARD_2,
    CLOSED,
    LOST,
    OTHER_MAIN,
    allocate,
    audit_events,
    balances_of,
    deposit,
    headers,
    in_app,
    owned_key,
    problem,
)

LOADS = "/api/v1/loads"


@pytest.fixture
def money(app, api_world):
    """¥100 on CARD_1's reserve, and a key of the showcase admin with every scope."""
    in_app(app, lambda s: deposit(s, api_world.world, 100_000, reference="SEED-1"))
    in_app(app, lambda s: allocate(s, api_world.world, {CARD_1: 10_000}))
    api_world.owned = owned_key(app, api_world.world)
    return api_world


def _request(client, token, number=CARD_1, amount=2_500, key="load-1"):
    return client.post(LOADS, json={"card_number": number, "amount_fen": amount}, headers=headers(token, key))


def _card_balance(client, token, number=CARD_1) -> dict:
    cards = client.get("/api/v1/balances", headers=headers(token)).get_json()["data"]
    return next(c for c in cards if c["card_number"] == number)


def test_a_load_holds_the_reserve_and_waits_for_the_chip(app, client, money):
    response = _request(client, money.owned)
    assert response.status_code == 201, response.get_data(as_text=True)
    load = response.get_json()
    assert load["state"] == "waiting" and load["card_number"] == CARD_1 and load["amount_fen"] == 2_500
    assert load["resolved_at"] is None and load["expires_at"] > load["requested_at"]
    balance = _card_balance(client, money.token)
    assert (balance["reserve_fen"], balance["reserve_available_fen"], balance["waiting_load_fen"]) == (
        10_000, 7_500, 2_500
    )  # fmt: skip
    assert client.get(f"{LOADS}/{load['id']}", headers=headers(money.token)).get_json() == load
    (event,) = audit_events(app, "api.chips.load_requested")
    assert event[2]["api_key_name"] == "ERP" and event[2]["amount"] == 2_500
    # the same request again: the same load, nothing held twice
    again = _request(client, money.owned)
    assert again.get_json() == load and again.headers["Idempotent-Replayed"] == "true"
    assert _card_balance(client, money.token)["waiting_load_fen"] == 2_500
    problem(_request(client, money.owned, amount=2_501), 422, "idempotency_key_reused")


def test_cancelling_releases_the_hold_once(app, client, money):
    load = _request(client, money.owned).get_json()
    cancel = f"{LOADS}/{load['id']}/cancel"
    response = client.post(cancel, json={}, headers=headers(money.owned))
    assert response.status_code == 200 and response.get_json()["state"] == "cancelled"
    assert response.get_json()["resolved_at"] is not None
    assert _card_balance(client, money.token)["reserve_available_fen"] == 10_000
    again = client.post(cancel, json={}, headers=headers(money.owned))
    assert again.status_code == 200 and again.get_json() == response.get_json()
    assert len(audit_events(app, "chips.load_cancelled")) == 1
    assert balances_of(app, money.world)[1][CARD_1] == 10_000


def test_a_load_on_the_chip_cannot_be_cancelled(app, client, money):
    from portal.chips import loads
    from portal.chips.models import LoadRequest
    from portal.chips.virtual import VirtualReader
    from portal.extensions import clock

    load = _request(client, money.owned).get_json()

    def write(session):
        now = clock().now()
        loads.write_load(session, VirtualReader(session, now=now), session.get(LoadRequest, load["id"]), now=now,
                         actor_id=None)  # fmt: skip

    in_app(app, write)
    assert client.get(f"{LOADS}/{load['id']}", headers=headers(money.token)).get_json()["state"] == "loaded"
    problem(client.post(f"{LOADS}/{load['id']}/cancel", json={}, headers=headers(money.owned)), 409, "not_pending")
    assert _card_balance(client, money.token)["purse_fen"] == 2_500


def test_a_load_past_its_hold_shows_expired(app, client, clock, money):
    load = _request(client, money.owned).get_json()
    clock.advance(timedelta(hours=73))
    assert client.get(f"{LOADS}/{load['id']}", headers=headers(money.token)).get_json()["state"] == "expired"
    listed = client.get(f"{LOADS}?state=expired", headers=headers(money.token)).get_json()["data"]
    assert [item["id"] for item in listed] == [load["id"]]
    assert client.get(f"{LOADS}?state=waiting", headers=headers(money.token)).get_json()["data"] == []
    cancelled = client.post(f"{LOADS}/{load['id']}/cancel", json={}, headers=headers(money.owned))
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] in ("expired", "cancelled")


@pytest.mark.parametrize(
    ("number", "amount", "status", "code"),
    [
        (CARD_1, 10_001, 409, "reserve_insufficient"),
        (CARD_2, 1, 409, "reserve_insufficient"),
        (LOST, 1, 409, "card_not_active"),
        (CLOSED, 1, 409, "card_not_active"),
        ("9030000199999999", 1, 404, "card_not_found"),
        (OTHER_MAIN, 1, 404, "card_not_found"),
        ("9030000100000001", 1, 404, "card_not_found"),  # the main card carries no purse to load
    ],
)
def test_refused_loads_hold_nothing(app, client, money, number, amount, status, code):
    problem(_request(client, money.owned, number, amount), status, code)
    assert _card_balance(client, money.token)["reserve_available_fen"] == 10_000
    assert client.get(LOADS, headers=headers(money.token)).get_json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"card_number": CARD_1, "amount_fen": 0},
        {"card_number": CARD_1, "amount_fen": -5},
        {"card_number": CARD_1, "amount_fen": "5"},
        {"card_number": CARD_1, "amount_fen": 5.5},
        {"card_number": CARD_1, "amount_fen": 10**40},
        {"card_number": None, "amount_fen": 5},
        {"amount_fen": 5},
        {"card_number": CARD_1, "amount_fen": 5, "extra": 1},
    ],
)
def test_bad_load_bodies_are_422(client, money, body):
    problem(client.post(LOADS, json=body, headers=headers(money.owned, "bad")), 422, "validation_failed")


def test_scopes_owner_and_other_customers(app, client, money):
    load = _request(client, money.owned).get_json()
    read_only = owned_key(app, money.world, ["read"])
    problem(_request(client, read_only, key="x"), 403, "scope_missing")
    problem(client.post(f"{LOADS}/{load['id']}/cancel", json={}, headers=headers(read_only)), 403, "scope_missing")
    problem(_request(client, money.token, key="y"), 409, "key_without_owner")
    problem(client.get(f"{LOADS}/{load['id']}", headers=headers(money.other_token)), 404, "load_not_found")
    problem(client.post(f"{LOADS}/{load['id']}/cancel", json={}, headers=headers(money.other_token)), 404,
            "load_not_found")  # fmt: skip
    assert client.get(LOADS, headers=headers(money.other_token)).get_json()["data"] == []
    problem(client.post(f"{LOADS}/{load['id']}/cancel", headers=headers(money.owned)), 415, "unsupported_media_type")
    assert client.get(f"{LOADS}/{load['id']}", headers=headers(money.token)).get_json()["state"] == "waiting"


def test_lists_filter_by_card_search_and_state_and_page(app, client, clock, money):
    in_app(app, lambda s: allocate(s, money.world, {CARD_2: 10_000}))
    made = []
    for n, number in enumerate((CARD_1, CARD_2, CARD_1)):
        clock.advance(timedelta(minutes=1))
        made.append(_request(client, money.owned, number, 100 + n, key=f"l{n}").get_json()["id"])
    client.post(f"{LOADS}/{made[0]}/cancel", json={}, headers=headers(money.owned))

    def ids(query: str) -> list[str]:
        return [load["id"] for load in client.get(f"{LOADS}?{query}", headers=headers(money.token)).get_json()["data"]]

    assert ids("") == made[::-1]
    assert ids(f"card_number={CARD_1}") == [made[2], made[0]]
    assert ids("q=2号车") == [made[1]]
    assert ids("state=waiting") == [made[2], made[1]] and ids("state=cancelled") == [made[0]]
    assert ids("state=loaded") == []
    first = client.get(f"{LOADS}?limit=2", headers=headers(money.token)).get_json()
    rest = client.get(f"{LOADS}?limit=2&cursor={first['next_cursor']}", headers=headers(money.token)).get_json()
    assert [x["id"] for x in first["data"] + rest["data"]] == made[::-1] and rest["next_cursor"] is None
    problem(client.get(f"{LOADS}?card_number={OTHER_MAIN}", headers=headers(money.token)), 404, "card_not_found")
    problem(client.get(f"{LOADS}?state=pending", headers=headers(money.token)), 422, "validation_failed")
    problem(client.get(f"{LOADS}?cursor=abc", headers=headers(money.token)), 400, "bad_cursor")


# --- two copies of one allocation at once (PostgreSQL) -----------------------------------------------------

ROUNDS = 8


def _race(app, token: str, key: str, body: dict, path: str = "/api/v1/allocations") -> list:
    start = threading.Barrier(2)
    answers: list = [None, None]

    def run(i: int) -> None:
        client = app.test_client()
        start.wait(timeout=30)
        response = client.post(path, json=body, headers=headers(token, key))
        answers[i] = (response.status_code, response.get_json(force=True))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.postgres
@pytest.mark.slow
def test_two_copies_of_one_allocation_at_once_post_one_batch(app, money):
    from portal.funds.models import FundsBatch
    from portal.ledger.models import Transfer

    for n in range(ROUNDS):
        body = {"lines": [{"card_number": CARD_1, "amount_fen": 100 + n}, {"card_number": CARD_2, "amount_fen": 1}]}
        first, second = _race(app, money.owned, f"race-{n}", body)
        assert first == second and first[0] == 201, (n, first, second)
    unit, reserves = balances_of(app, money.world)
    paid = sum(100 + n + 1 for n in range(ROUNDS))
    assert unit == 100_000 - 10_000 - paid and reserves[CARD_2] == ROUNDS
    assert in_app(app, lambda s: s.scalar(select(func.count(FundsBatch.id)))) == ROUNDS + 1
    allocations = in_app(app, lambda s: s.scalar(select(func.count(Transfer.id)).where(Transfer.code == "allocation")))
    assert allocations == 1 + 2 * ROUNDS


@pytest.mark.postgres
@pytest.mark.slow
def test_two_copies_of_one_load_request_at_once_hold_once(app, client, money):
    for n in range(ROUNDS):
        body = {"card_number": CARD_1, "amount_fen": 100 + n}
        first, second = _race(app, money.owned, f"load-race-{n}", body, LOADS)
        assert first == second and first[0] == 201 and first[1]["state"] == "waiting", (n, first, second)
    held = sum(100 + n for n in range(ROUNDS))
    assert _card_balance(client, money.token)["waiting_load_fen"] == held
    assert len(client.get(f"{LOADS}?limit=200", headers=headers(money.token)).get_json()["data"]) == ROUNDS
