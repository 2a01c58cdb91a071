"""The money endpoints of the customer API: balances, allocations and collections, deposits.
They call the funds pages' services, so these tests check the API's side: figures equal the ledger,
every refusal is a problem and moves nothing, idempotency, scopes and other customers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.web.api_money_support import (
    CARD_1,
    CARD_2,
    CARD_3,
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

UNIT = 1_000_000  # ¥10,000.00 deposited before each test


@pytest.fixture
def money(app, api_world):
    """The showcase world, ¥10,000 in the unit account, and a key of its admin with every scope."""
    in_app(app, lambda s: deposit(s, api_world.world, UNIT, reference="SEED-1"))
    api_world.owned = owned_key(app, api_world.world)
    return api_world


def _allocate(client, token, lines, key="alloc-1", path="/api/v1/allocations"):
    body = {"lines": [{"card_number": number, "amount_fen": amount} for number, amount in lines]}
    return client.post(path, json=body, headers=headers(token, key))


# --- balances ---------------------------------------------------------------------------------------


def test_balances_are_the_ledgers(app, client, money):
    in_app(app, lambda s: allocate(s, money.world, {CARD_1: 12_345, CARD_2: 1}))
    body = client.get("/api/v1/balances", headers=headers(money.token)).get_json()
    unit, reserves = balances_of(app, money.world)
    assert body["unit"] == {"posted_fen": unit, "held_fen": 0, "available_fen": unit} and unit == UNIT - 12_346
    shown = {card["card_number"]: card for card in body["data"]}
    assert {number: card["reserve_fen"] for number, card in shown.items()} == {
        number: reserves[number] for number in shown
    }
    assert shown[CARD_1]["reserve_fen"] == 12_345 and shown[CARD_1]["reserve_available_fen"] == 12_345
    assert shown[CARD_1]["purse_fen"] == 0 and shown[CARD_1]["waiting_load_fen"] == 0
    assert OTHER_MAIN not in shown and money.world.main_card_number not in shown  # sub-cards only


def test_balances_page_through_every_card_with_the_cards_filters(client, money):
    everything = client.get("/api/v1/balances?limit=200", headers=headers(money.token)).get_json()
    seen, url = [], "/api/v1/balances?limit=2"
    while url:
        page = client.get(url, headers=headers(money.token)).get_json()
        assert page["unit"] == everything["unit"] and len(page["data"]) <= 2
        seen += page["data"]
        url = f"/api/v1/balances?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert seen == everything["data"] and len(seen) == 7
    lost = client.get("/api/v1/balances?status=lost", headers=headers(money.token)).get_json()["data"]
    assert [card["card_number"] for card in lost] == [LOST]
    found = client.get("/api/v1/balances?q=1号车", headers=headers(money.token)).get_json()["data"]
    assert [card["card_number"] for card in found] == [CARD_1]
    cards_cursor = client.get("/api/v1/cards?limit=1", headers=headers(money.token)).get_json()["next_cursor"]
    problem(client.get(f"/api/v1/balances?cursor={cards_cursor}", headers=headers(money.token)), 400, "bad_cursor")


def test_another_customers_balances_show_none_of_these(client, money):
    body = client.get("/api/v1/balances", headers=headers(money.other_token)).get_json()
    assert body["unit"]["posted_fen"] == 0 and body["data"] == []  # haiyun has only its main card


# --- allocations ------------------------------------------------------------------------------------------


def test_an_allocation_moves_every_line_at_once_and_answers_the_new_balances(app, client, money):
    response = _allocate(client, money.owned, [(CARD_2, 30_000), (CARD_1, 20_050)])
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    unit, reserves = balances_of(app, money.world)
    assert unit == UNIT - 50_050 and reserves[CARD_1] == 20_050 and reserves[CARD_2] == 30_000
    assert body["kind"] == "allocation" and body["total_fen"] == 50_050 and body["line_count"] == 2
    assert body["unit_balance_after_fen"] == unit and body["posted_at"].endswith("+08:00")
    assert body["lines"] == [
        {"line_no": 1, "card_number": CARD_2, "amount_fen": 30_000, "reserve_after_fen": 30_000},
        {"line_no": 2, "card_number": CARD_1, "amount_fen": 20_050, "reserve_after_fen": 20_050},
    ]
    (event,) = audit_events(app, "api.funds.allocation")
    assert event[2]["api_key_name"] == "ERP" and event[2]["batch"] == body["id"] and event[2]["total"] == 50_050
    assert len(audit_events(app, "funds.allocation")) == 1  # the rules' own record, under the key's owner
    # the batch is listed and can be read again
    listed = client.get("/api/v1/allocations", headers=headers(money.token)).get_json()
    assert [b["id"] for b in listed["data"]] == [body["id"]] and listed["next_cursor"] is None
    assert client.get(f"/api/v1/allocations/{body['id']}", headers=headers(money.token)).get_json() == body
    problem(client.get(f"/api/v1/collections/{body['id']}", headers=headers(money.token)), 404, "batch_not_found")
    problem(client.get(f"/api/v1/allocations/{body['id']}", headers=headers(money.other_token)), 404,
            "batch_not_found")  # fmt: skip


def test_the_same_key_posts_once_and_answers_the_same(app, client, money):
    first = _allocate(client, money.owned, [(CARD_1, 100)], key="same")
    again = _allocate(client, money.owned, [(CARD_1, 100)], key="same")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert balances_of(app, money.world)[0] == UNIT - 100
    problem(_allocate(client, money.owned, [(CARD_1, 101)], key="same"), 422, "idempotency_key_reused")
    problem(_allocate(client, money.owned, [(CARD_1, 100)], key=None), 400, "idempotency_key_missing")
    assert balances_of(app, money.world)[0] == UNIT - 100


@pytest.mark.parametrize(
    ("lines", "reasons"),
    [
        ([(CARD_1, 100), ("9030000199999999", 100)], {"body.lines[2]": "unknown_card"}),
        ([(OTHER_MAIN, 100)], {"body.lines[1]": "unknown_card"}),  # another customer's: unknown
        ([(LOST, 100), (CLOSED, 100)], {"body.lines[1]": "card_lost", "body.lines[2]": "card_closed"}),
        ([(CARD_1, 100), (CARD_1, 200)], {"body.lines[2]": "duplicate_card"}),
        ([(CARD_1, UNIT), (CARD_2, 1)], {"body": "above_unit_balance"}),
        ([("9030000100000001", 100)], {"body.lines[1]": "not_sub_card"}),
    ],
)
def test_refused_allocations_name_each_line_and_move_nothing(app, client, money, lines, reasons):
    body = problem(_allocate(client, money.owned, lines), 422, "plan_rejected")
    assert {e["field"]: e["message"] for e in body["errors"]} == reasons
    assert balances_of(app, money.world)[0] == UNIT
    assert client.get("/api/v1/allocations", headers=headers(money.token)).get_json()["data"] == []


@pytest.mark.parametrize(
    "line",
    [
        {"card_number": CARD_1, "amount_fen": -100},
        {"card_number": CARD_1, "amount_fen": 0},
        {"card_number": CARD_1, "amount_fen": "100"},
        {"card_number": CARD_1, "amount_fen": 1.5},
        {"card_number": CARD_1, "amount_fen": 100.0},
        {"card_number": CARD_1, "amount_fen": True},
        {"card_number": CARD_1, "amount_fen": 10**30},
        {"card_number": CARD_1, "amount_fen": 10_000_000_001},
        {"card_number": 9030000100000110, "amount_fen": 100},
        {"card_number": "", "amount_fen": 100},
        {"card_number": CARD_1},
        {"card_number": CARD_1, "amount_fen": 100, "memo": "x"},
    ],
)
def test_bad_lines_are_validation_problems(app, client, money, line):
    body = problem(client.post("/api/v1/allocations", json={"lines": [line]}, headers=headers(money.owned, "v")),
                   422, "validation_failed")  # fmt: skip
    assert all(e["field"].startswith("body.lines") for e in body["errors"]), body
    assert balances_of(app, money.world)[0] == UNIT


def test_bad_bodies_are_problems(client, money):
    h = headers(money.owned, "b")
    problem(client.post("/api/v1/allocations", json={"lines": []}, headers=h), 422, "validation_failed")
    problem(client.post("/api/v1/allocations", json={}, headers=h), 422, "validation_failed")
    too_many = {"lines": [{"card_number": CARD_1, "amount_fen": 1}] * 5001}
    problem(client.post("/api/v1/allocations", json=too_many, headers=h), 422, "validation_failed")
    problem(client.post("/api/v1/allocations", data="{bad", headers={**h, "Content-Type": "application/json"}), 400,
            "malformed_json")  # fmt: skip
    problem(client.post("/api/v1/allocations", data="a=1", headers=h), 415, "unsupported_media_type")


def test_scopes_and_the_keys_owner(app, client, money):
    read_only = owned_key(app, money.world, ["read"], name="Dashboard")
    problem(_allocate(client, read_only, [(CARD_1, 100)]), 403, "scope_missing")
    problem(_allocate(client, money.token, [(CARD_1, 100)]), 409, "key_without_owner")  # made outside the portal
    assert balances_of(app, money.world)[0] == UNIT


def test_the_unit_balance_bounds_allocations(app, client, money):
    problem(_allocate(client, money.owned, [(CARD_1, UNIT + 1)], key="a1"), 422, "plan_rejected")
    assert _allocate(client, money.owned, [(CARD_1, UNIT)], key="a2").status_code == 201
    problem(_allocate(client, money.owned, [(CARD_2, 1)], key="a3"), 422, "plan_rejected")
    assert balances_of(app, money.world)[0] == 0


# --- collections -------------------------------------------------------------------------------------------


def test_a_collection_brings_reserves_home(app, client, money):
    in_app(app, lambda s: allocate(s, money.world, {CARD_1: 5_000, CARD_2: 3_000}))
    response = _allocate(client, money.owned, [(CARD_1, 5_000), (CARD_2, 1_000)], path="/api/v1/collections")
    assert response.status_code == 201, response.get_data(as_text=True)
    unit, reserves = balances_of(app, money.world)
    assert unit == UNIT - 2_000 and reserves[CARD_1] == 0 and reserves[CARD_2] == 2_000
    body = response.get_json()
    assert body["kind"] == "collection" and [line["reserve_after_fen"] for line in body["lines"]] == [0, 2_000]
    listed = client.get("/api/v1/collections", headers=headers(money.token)).get_json()["data"]
    assert [b["id"] for b in listed] == [body["id"]]
    assert client.get("/api/v1/allocations", headers=headers(money.token)).get_json()["data"][0]["id"] != body["id"]


def test_a_collection_above_a_reserve_or_from_a_closed_card_is_refused(app, client, money):
    in_app(app, lambda s: allocate(s, money.world, {CARD_1: 5_000}))
    body = problem(_allocate(client, money.owned, [(CARD_1, 5_001), (CLOSED, 1), (CARD_3, 1)],
                             path="/api/v1/collections"), 422, "plan_rejected")  # fmt: skip
    assert {e["field"]: e["message"] for e in body["errors"]} == {
        "body.lines[1]": "above_reserve", "body.lines[2]": "card_closed", "body.lines[3]": "above_reserve",
    }  # fmt: skip
    assert balances_of(app, money.world)[1][CARD_1] == 5_000


def test_batch_lists_page_newest_first(app, client, clock, money):
    from datetime import timedelta

    ids = []
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        ids.append(_allocate(client, money.owned, [(CARD_1, 100 + n)], key=f"k{n}").get_json()["id"])
    seen, url = [], "/api/v1/allocations?limit=2"
    while url:
        page = client.get(url, headers=headers(money.token)).get_json()
        seen += [b["id"] for b in page["data"]]
        url = f"/api/v1/allocations?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert seen == ids[::-1]
    assert client.get("/api/v1/allocations", headers=headers(money.other_token)).get_json()["data"] == []
    problem(client.get("/api/v1/allocations/" + "x" * 300, headers=headers(money.token)), 404, "batch_not_found")


# --- deposits ---------------------------------------------------------------------------------------------


def test_deposits_list_search_and_get(app, client, clock, money):
    from datetime import timedelta

    clock.advance(timedelta(minutes=1))
    in_app(app, lambda s: deposit(s, money.world, 2_500, reference="ICBC-778"))
    body = client.get("/api/v1/deposits", headers=headers(money.token)).get_json()
    assert [(d["bank_reference"], d["amount_fen"]) for d in body["data"]] == [("ICBC-778", 2_500), ("SEED-1", UNIT)]
    assert body["data"][0]["recorded_at"].endswith("+08:00")
    found = client.get("/api/v1/deposits?q=ICBC", headers=headers(money.token)).get_json()["data"]
    assert [d["bank_reference"] for d in found] == ["ICBC-778"]
    first = client.get("/api/v1/deposits?limit=1", headers=headers(money.token)).get_json()
    second = client.get(f"/api/v1/deposits?limit=1&cursor={first['next_cursor']}", headers=headers(money.token))
    assert second.get_json()["data"][0]["bank_reference"] == "SEED-1" and second.get_json()["next_cursor"] is None
    one = body["data"][0]
    assert client.get(f"/api/v1/deposits/{one['id']}", headers=headers(money.token)).get_json() == one
    assert client.get("/api/v1/deposits", headers=headers(money.other_token)).get_json()["data"] == []
    for bad in (str(one["id"]) + "0" * 20, "abc", "-1", "0", "１"):
        problem(client.get(f"/api/v1/deposits/{bad}", headers=headers(money.token)), 404, "deposit_not_found")
    problem(client.get(f"/api/v1/deposits/{one['id']}", headers=headers(money.other_token)), 404,
            "deposit_not_found")  # fmt: skip


def test_only_one_batch_is_stored_per_request(app, client, money):
    from portal.funds.models import FundsBatch

    _allocate(client, money.owned, [(CARD_1, 100)])
    _allocate(client, money.owned, [(CARD_1, 100)])
    assert in_app(app, lambda s: s.scalar(select(func.count(FundsBatch.id)))) == 1


# --- a thousand cards -------------------------------------------------------------------------------------

MANY = 1000
FIRST_NUMBER = 9030009900000000


def _bulk_cards(session, customer_id: int) -> None:
    from sqlalchemy import insert

    from portal.cards.models import Card
    from portal.extensions import clock
    from tests.builders import EXPIRES

    now = clock().now()
    rows = [
        {"number": str(FIRST_NUMBER + i), "customer_id": customer_id, "role": "sub", "status": "active",
         "expires_on": EXPIRES, "issued_at": now}
        for i in range(MANY)
    ]  # fmt: skip
    session.execute(insert(Card), rows)


@pytest.fixture
def statements(app):
    from sqlalchemy import event

    from portal.extensions import db

    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    yield seen
    event.remove(engine, "before_cursor_execute", listener)


@pytest.mark.slow
def test_a_thousand_cards_one_allocation_and_pages_of_balances(app, client, money, statements):
    in_app(app, lambda s: _bulk_cards(s, money.customer_id))
    lines = [(str(FIRST_NUMBER + i), 100 + i) for i in range(MANY)]
    response = _allocate(client, money.owned, lines, key="many")
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert body["line_count"] == MANY and len(body["lines"]) == MANY
    total = sum(amount for _, amount in lines)
    assert body["total_fen"] == total and body["unit_balance_after_fen"] == UNIT - total
    assert body["lines"][-1] == {"line_no": MANY, "card_number": lines[-1][0], "amount_fen": lines[-1][1],
                                 "reserve_after_fen": lines[-1][1]}  # fmt: skip
    seen, url, pages = {}, "/api/v1/balances?limit=200&q=90300099", 0
    while url:
        statements.clear()
        page = client.get(url, headers=headers(money.token)).get_json()
        assert len(statements) <= 12, statements  # the same few statements whatever the page size
        pages += 1
        seen |= {card["card_number"]: card["reserve_fen"] for card in page["data"]}
        url = f"/api/v1/balances?limit=200&q=90300099&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert pages == MANY // 200 and seen == dict(lines)
    assert balances_of(app, money.world)[1] | seen == balances_of(app, money.world)[1]
