"""The API's transaction lists (/api/v1/account-transactions, /purchase-transactions,
/points-transactions): the pages' rows and totals, walked page by page with cursors, tied out to the
pages' downloads and to the ledger journal (tests/web/figures.py), and every refusal as a problem."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import ledger
from portal.clock import business_day_bounds
from tests.conftest import T0
from tests.web import figures as f
from tests.web.api_support import bearer, make_key
from tests.web.conftest import signed_in

PROBLEM = "application/problem+json"
#: Everything of fleet_history: from before its first deposit to T0 (2026-03-02, Beijing).
WHOLE = "start=2026-01-01&end=2026-03-02"
ACCOUNT_CODES = ("deposit", "allocation", "collection", "load", "replacement", "reversal")


@pytest.fixture
def world(queries_world):
    return queries_world


@pytest.fixture
def token(app, world):
    return make_key(app, world.acme.id, ["read"])


@pytest.fixture
def other_token(app, world):
    return make_key(app, world.other.id, ["read"], name="Other ERP")


def get(client, token, url):
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def walk(client, token, url, limit, cursor=None):
    """Every row of a list (after `cursor`), following next_cursor page by page."""
    rows, pages = [], 0
    while True:
        page = get(client, token, f"{url}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        rows += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, pages, page


def problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["code"] == code, body
    return body


def books(app):
    from portal.extensions import db

    with app.app_context():
        return f.Books(db.session)


def naive(day):
    return business_day_bounds(day)[0].replace(tzinfo=None)


# --- account transactions ------------------------------------------------------------------------


def test_account_transactions_walk_every_row_once_and_tie_out(app, client, world, token):
    url = f"/api/v1/account-transactions?{WHOLE}"
    one_page = get(client, token, url + "&limit=200")
    rows, pages, last = walk(client, token, url, 2)
    assert pages > 2 and [r["id"] for r in rows] == [r["id"] for r in one_page["data"]]
    assert len({r["id"] for r in rows}) == len(rows)
    times = [r["at"] for r in rows]
    assert times == sorted(times, reverse=True) and all(t.endswith("+08:00") for t in times)
    # The totals of the whole filter, on every page, equal the journal's.
    assert last["totals"] == one_page["totals"]
    b = books(app)
    ids = b.accounts_of(world.acme.id, ("unit", "reserve", "purse"))
    moved = b.movements(ids, ACCOUNT_CODES)
    for total in one_page["totals"]:
        assert (total["count"], total["amount_fen"]) == (
            moved[(total["type"], "count")],
            moved[(total["type"], "amount")],
        )
    assert sum(t["count"] for t in one_page["totals"]) == len(rows)
    # The load waiting for its chip write is one row, in its state, and nothing moved yet.
    load = next(r for r in rows if r["type"] == "load" and r["state"] == "waiting")
    assert load["signed_fen"] == 0 and load["amount_fen"] == 300_00
    assert {s["state"]: s["count"] for s in one_page["loads"]} == {"waiting": 1}
    deposit = next(r for r in rows if r["type"] == "deposit")
    assert deposit["signed_fen"] == 10_000_00 and deposit["target"] == {"kind": "unit", "card_number": None}


def test_account_transactions_equal_the_pages_download(client, world, token):
    api = get(client, token, f"/api/v1/account-transactions?{WHOLE}&limit=200")["data"]
    signed_in(client, "acme_admin")
    page = f.csv_rows(client.get(f"/queries/account-transactions/export.csv?preset=custom&{WHOLE}").get_data())
    assert [f.csv_number(row[5]) for row in page] == [r["amount_fen"] for r in api]
    assert [row[0] for row in page] == [r["at"][:19].replace("T", " ") for r in api]
    assert [row[6] for row in page] == [r["memo"] for r in api]


def test_account_transactions_filters(client, world, token):
    base = f"/api/v1/account-transactions?{WHOLE}&limit=200"
    allocations = get(client, token, base + "&type=allocation")["data"]
    assert len(allocations) == 3 and {r["type"] for r in allocations} == {"allocation"}
    c1 = get(client, token, base + "&card=9030000000000001")["data"]
    assert c1 and all("9030000000000001" in (r["source"]["card_number"], r["target"]["card_number"]) for r in c1)
    li = get(client, token, base + f"&driver={world.drivers['li'].id}")["data"]
    assert [r["id"] for r in li] == [r["id"] for r in c1]
    oldest_first = get(client, token, base + "&order=asc")["data"]
    assert [r["id"] for r in oldest_first] == [r["id"] for r in get(client, token, base)["data"]][::-1]
    # No dates: this month, as on the page (fleet_history's money moved last month).
    assert get(client, token, "/api/v1/account-transactions?type=deposit")["data"] == []
    assert get(client, token, "/api/v1/account-transactions?preset=last_month&type=deposit")["data"]


# --- purchase transactions -----------------------------------------------------------------------


def test_purchase_transactions_tie_out_to_the_ledger_and_the_page(app, client, world, token):
    url = f"/api/v1/purchase-transactions?{WHOLE}"
    rows, pages, last = walk(client, token, url, 2)
    assert pages == 3 and len(rows) == 6
    b = books(app)
    purses = b.accounts_of(world.acme.id, ("purse",))
    count, bought, net = b.sales(purses)
    assert (last["totals"]["count"], last["totals"]["purchases"], last["totals"]["amount_fen"]) == (count, bought, net)
    assert sum(r["amount_fen"] for r in rows) == net
    refund = next(r for r in rows if r["kind"] == "refund")
    assert refund["amount_fen"] == -20_00 and refund["litres_ml"] == -2_500 and refund["points"] == -20
    signed_in(client, "acme_admin")
    page = f.csv_rows(client.get(f"/queries/purchases/export.csv?preset=custom&{WHOLE}").get_data())
    assert [f.csv_number(row[10]) for row in page] == [r["amount_fen"] for r in rows]
    assert [row[2] for row in page] == [r["card_number"] for r in rows]
    first = rows[-1]  # the oldest: c1 at S1, 300.00 for 40 L of 92
    assert first["station_code"] == "S1" and first["product_code"] == "92" and first["odometer_km"] == 10_000
    assert first["driver_id"] == world.drivers["li"].id and first["region_code"] == "11"


def test_purchase_filters_and_declines(client, world, token):
    base = f"/api/v1/purchase-transactions?{WHOLE}&limit=50"
    declined = get(client, token, base + "&status=declined")
    assert [r["decline_code"] for r in declined["data"]] == ["insufficient_balance"]
    assert declined["totals"]["count"] == 1
    refunds = get(client, token, base + "&type=refund")["data"]
    assert [r["kind"] for r in refunds] == ["refund"]
    s2 = get(client, token, base + "&station=S2")["data"]
    assert [r["product_code"] for r in s2] == ["95"]
    assert get(client, token, base + "&product=95")["data"] == s2
    assert get(client, token, base + "&region=31")["data"] == s2
    c2 = get(client, token, base + "&card=9030000000000002")["data"]
    assert {r["card_number"] for r in c2} == {"9030000000000002"} and len(c2) == 2
    assert get(client, token, base + "&plate=京A10002")["data"] == c2  # the plate the purchase recorded
    assert get(client, token, base + f"&driver={world.drivers['wang'].id}")["data"] == c2


def test_another_customer_sees_only_its_own(client, world, other_token):
    rows = get(client, other_token, f"/api/v1/purchase-transactions?{WHOLE}")["data"]
    assert {r["card_number"] for r in rows} == {"9031000000000001"}
    moves = get(client, other_token, f"/api/v1/account-transactions?{WHOLE}")["data"]
    numbers = {side["card_number"] for r in moves for side in (r["source"], r["target"])}
    assert numbers <= {None, "9031000000000001"}
    problem(client.get("/api/v1/purchase-transactions?card=9030000000000001", headers=bearer(other_token)), 404,
            "card_not_found")  # fmt: skip


# --- points transactions -------------------------------------------------------------------------


def test_points_transactions_running_balance_equals_the_ledger(app, client, world, token, session):
    answer = get(client, token, f"/api/v1/points-transactions?{WHOLE}&limit=200")
    b = books(app)
    ids = b.accounts_of(world.acme.id, ("points",))
    assert answer["balance"] == b.balance(ids)
    rows = answer["data"]
    assert rows and rows[0]["balance_after"] == answer["balance"]
    for newer, older in zip(rows, rows[1:], strict=False):
        assert older["balance_after"] == newer["balance_after"] - newer["points"]
    walked, pages, _ = walk(client, token, f"/api/v1/points-transactions?{WHOLE}", 1)
    assert pages == len(rows) and [r["balance_after"] for r in walked] == [r["balance_after"] for r in rows]
    earned = get(client, token, f"/api/v1/points-transactions?{WHOLE}&type=points_earn")
    assert {r["type"] for r in earned["data"]} == {"points_earn"}
    assert [(t["type"], t["count"]) for t in earned["totals"]] == [("points_earn", len(earned["data"]))]


# --- refusals ------------------------------------------------------------------------------------

LISTS = ("/api/v1/account-transactions", "/api/v1/purchase-transactions", "/api/v1/points-transactions")


@pytest.mark.parametrize("url", LISTS)
def test_bad_filters_are_problems(client, world, token, url):
    send = lambda query: client.get(f"{url}?{query}", headers=bearer(token))  # noqa: E731
    problem(send("start=2026-03-02&end=2026-03-01"), 400, "bad_filter")
    problem(send("start=2026-03-01"), 400, "bad_filter")
    problem(send("start=2020-01-01&end=2026-03-01"), 400, "bad_filter")  # over QUERY_MAX_DAYS
    problem(send("start=1900-01-01&end=1900-01-02"), 400, "bad_filter")
    problem(send("card=9039999999999999"), 404, "card_not_found")
    problem(send("cursor=not-a-cursor"), 400, "bad_cursor")
    body = problem(send("start=2026-02-30&end=x&limit=0&card=12ab&driver=-1&wat=1"), 422, "validation_failed")
    fields = {e["field"] for e in body["errors"]}
    assert {"query.start", "query.end", "query.limit", "query.card", "query.driver", "query.wat"} <= fields
    problem(send("driver=99999999999999999999999"), 422, "validation_failed")
    problem(send("card=%EF%BC%99%EF%BC%90%EF%BC%93%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90"), 422,
            "validation_failed")  # fullwidth digits  # fmt: skip


def test_a_cursor_belongs_to_its_list(client, world, token):
    cursor = get(client, token, f"/api/v1/account-transactions?{WHOLE}&limit=1")["next_cursor"]
    assert cursor
    for url in LISTS[1:]:
        problem(client.get(f"{url}?{WHOLE}&cursor={cursor}", headers=bearer(token)), 400, "bad_cursor")


def test_unknown_station_product_region_are_400(client, world, token):
    for name in ("station", "product", "region"):
        response = client.get(f"/api/v1/purchase-transactions?{name}=NOPE", headers=bearer(token))
        problem(response, 400, "unknown_reference")


def test_a_key_without_read_is_refused(app, client, world):
    token = make_key(app, world.acme.id, ["funds"])
    for url in LISTS:
        problem(client.get(url, headers=bearer(token)), 403, "scope_missing")


def test_a_new_movement_after_the_first_page_does_not_shift_the_walk(app, client, world, token, session):
    """Keyset pages: a row added at the head while walking does not repeat or skip rows."""
    url = f"/api/v1/account-transactions?{WHOLE}"
    first = get(client, token, url + "&limit=3")
    unit = ledger.unit_account(session, world.acme.id)
    clearing = ledger.system_account(session, "deposits_clearing")
    request = ledger.TransferRequest("late-deposit", clearing.id, unit.id, 1_00, "deposit")
    ledger.transfer(session, request, now=T0 - timedelta(minutes=1))
    session.commit()
    rest, _, _ = walk(client, token, url, 50, cursor=first["next_cursor"])
    everything = get(client, token, f"/api/v1/account-transactions?{WHOLE}&limit=200")["data"]
    assert [r["id"] for r in first["data"] + rest] == [r["id"] for r in everything[1:]]
    assert everything[0]["id"] == "late-deposit"
    assert session.scalar(select(ledger.Transfer.id).where(ledger.Transfer.id == "late-deposit"))


def test_loads_in_every_state_and_a_points_carry_over_tie_out(app, client, world, token, session):
    """A load written to the chip, one cancelled and one expired are one row each, in their state, and
    only the written one moved money; points a replacement card inherited move between two of the
    customer's cards (0 for the customer, `moved` on the row). Figures equal the page and the journal."""
    c1, c3 = world.cards["c1"], world.cards["c3"]
    waiting = session.scalar(select(ledger.Transfer).where(ledger.Transfer.kind == "pending"))
    ledger.post_pending(session, "written", waiting.id, now=T0 - timedelta(hours=1))
    reserve, purse = (ledger.card_account(session, c1.id, kind).id for kind in ("reserve", "purse"))
    for key, expires in (("cancel-me", T0 + timedelta(days=1)), ("lapse-me", T0 - timedelta(minutes=30))):
        ledger.create_pending(
            session, ledger.TransferRequest(key, reserve, purse, 10_00, "load"), now=T0 - timedelta(hours=2),
            expires_at=expires,
        )  # fmt: skip
    ledger.void_pending(session, "cancelled", "cancel-me", now=T0 - timedelta(minutes=40))
    ledger.void_pending(session, "lapsed", "lapse-me", now=T0 - timedelta(minutes=20))
    old = ledger.card_account(session, c1.id, "points")
    moved = ledger.balance(old)
    carry = ledger.TransferRequest("carry", old.id, ledger.card_account(session, c3.id, "points").id, moved,
                                   "replacement")  # fmt: skip
    ledger.transfer(session, carry, now=T0 - timedelta(minutes=5))
    session.commit()

    loads = get(client, token, f"/api/v1/account-transactions?{WHOLE}&type=load&limit=200")
    states = {r["id"]: (r["state"], r["signed_fen"]) for r in loads["data"]}
    assert states[waiting.id] == ("loaded", 0)  # reserve -> purse: both the customer's
    assert states["cancel-me"] == ("cancelled", 0) and states["lapse-me"] == ("expired", 0)
    b = books(app)
    purses = b.accounts_of(world.acme.id, ("reserve", "purse"))
    by_state = b.load_states(purses)
    assert {s["state"]: (s["count"], s["amount_fen"]) for s in loads["loads"]} == {
        state: (by_state[(state, "count")], by_state[(state, "amount")]) for state in ("loaded", "cancelled", "expired")
    }
    signed_in(client, "acme_admin")
    page = f.counted_tiles(client.get(f"/queries/account-transactions?preset=custom&{WHOLE}&type=load").get_data(
        as_text=True))  # fmt: skip
    # The page's tiles: "圈存" × count (every load), then one per state ("圈存 · 已写卡" ...).
    [load_total] = loads["totals"]
    assert page.pop("圈存") == (load_total["count"], load_total["amount_fen"])
    assert sorted(page.values()) == sorted((s["count"], s["amount_fen"]) for s in loads["loads"])

    points = get(client, token, f"/api/v1/points-transactions?{WHOLE}&limit=200")
    row = next(r for r in points["data"] if r["id"] == "carry")
    assert (row["points"], row["moved"], row["card_number"]) == (0, moved, "9030000000000001 -> 9030000000000003")
    assert row["balance_after"] == points["balance"] == b.balance(b.accounts_of(world.acme.id, ("points",)))
    stats = get(client, token, f"/api/v1/statistics/points?{WHOLE}&group=card")
    carried = {r["label"]: r["carried"] for r in stats["rows"]}
    assert carried["9030000000000001"] == -moved and carried["9030000000000003"] == moved
    assert stats["total"]["net"] == points["balance"]
