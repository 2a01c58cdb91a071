"""The API's statistics and statements: the same figures as the statistics pages' and the statement
page's downloads, and as the ledger journal (tests/web/figures.py); statements also as the page's
own CSV / XLSX files, streamed."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.web import figures as f
from tests.web.api_support import bearer, make_key
from tests.web.conftest import signed_in

PROBLEM = "application/problem+json"
WHOLE = "start=2026-01-01&end=2026-03-02"
GROUPS = ("day", "month", "card", "driver", "vehicle", "product", "station", "region")


@pytest.fixture
def world(queries_world):
    return queries_world


@pytest.fixture
def token(app, world):
    return make_key(app, world.acme.id, ["read"])


def get(client, token, url):
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    assert response.get_json(force=True)["code"] == code
    return response.get_json(force=True)


def hundredths(ml: int) -> int:
    """Millilitres as the downloads write litres: hundredths, rounded half up once."""
    return int((Decimal(ml) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def books(app):
    from portal.extensions import db

    with app.app_context():
        return f.Books(db.session)


def page_csv(client, url):
    signed_in(client, "acme_admin")
    response = client.get(url)
    assert response.status_code == 200
    return f.csv_rows(response.get_data())


# --- transaction statistics ----------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_transaction_statistics_equal_the_pages_figures(client, world, token, group):
    api = get(client, token, f"/api/v1/statistics/transactions?{WHOLE}&group={group}")
    page = page_csv(client, f"/statistics/transactions/export.csv?preset=custom&{WHOLE}&group={group}")
    assert api["group"] == group and (api["start"], api["end"]) == ("2026-01-01", "2026-03-02")
    expected = [
        (row[0], int(row[1]), f.csv_number(row[2]), f.csv_number(row[3]), f.csv_number(row[4]), int(row[5]))
        for row in page
    ]
    got = [
        (r["label"], r["purchases"], r["amount_fen"], hundredths(r["litres_ml"]), r["average_price_fen"], r["points"])
        for r in api["rows"]
    ]
    assert got == expected
    total = api["total"]
    assert total["amount_fen"] == sum(r["amount_fen"] for r in api["rows"])
    assert total["purchases"] == sum(r["purchases"] for r in api["rows"])


def test_transaction_statistics_tie_out_to_the_ledger(app, client, world, token):
    b = books(app)
    _count, bought, net = b.sales(b.accounts_of(world.acme.id, ("purse",)))
    total = get(client, token, f"/api/v1/statistics/transactions?{WHOLE}&group=month")["total"]
    assert (total["purchases"], total["amount_fen"]) == (bought, net)
    cards = {c.id for c in world.cards.values() if c.customer_id == world.acme.id}
    assert hundredths(total["litres_ml"]) == b.litres(cards)


def test_transaction_statistics_filters_and_keys(client, world, token):
    by_card = get(client, token, f"/api/v1/statistics/transactions?{WHOLE}&group=card")["rows"]
    assert {r["key"] for r in by_card} == {str(world.cards["c1"].id), str(world.cards["c2"].id)}
    assert {r["label"] for r in by_card} == {"9030000000000001", "9030000000000002"}
    c1 = [r for r in by_card if r["label"] == "9030000000000001"][0]
    assert c1["ml_per_100km"] is not None  # odometer readings cover a distance
    months = get(client, token, f"/api/v1/statistics/transactions?{WHOLE}&group=month")["rows"]
    assert [r["key"] for r in months] == ["2026-02", "2026-03"]
    s2 = get(client, token, f"/api/v1/statistics/transactions?{WHOLE}&group=product&station=S2")["rows"]
    assert [r["key"] for r in s2] == ["95"]
    refunds = get(client, token, f"/api/v1/statistics/transactions?{WHOLE}&group=day&type=refund")["total"]
    assert refunds["amount_fen"] == -20_00 and refunds["purchases"] == 0


# --- points statistics ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", ("day", "month", "card"))
def test_points_statistics_equal_the_pages_figures_and_the_ledger(app, client, world, token, group):
    api = get(client, token, f"/api/v1/statistics/points?{WHOLE}&group={group}")
    page = page_csv(client, f"/statistics/points/export.csv?preset=custom&{WHOLE}&group={group}")
    names = ("earned", "taken_back", "redeemed", "expired", "carried", "net")
    assert [(r["label"], *(r[n] for n in names)) for r in api["rows"]] == [
        (row[0], *(int(v) for v in row[1:7])) for row in page
    ]
    b = books(app)
    assert api["total"]["net"] == b.balance(b.accounts_of(world.acme.id, ("points",)))


# --- statements ----------------------------------------------------------------------------------


def test_statement_figures_equal_the_ledger(app, client, world, token):
    b = books(app)
    unit = b.accounts_of(world.acme.id, ("unit",))
    now = get(client, token, "/api/v1/statements")
    assert now["month"] == "2026-03"
    [account] = now["accounts"]
    assert account["account_kind"] == "unit" and account["closing_fen"] == b.balance(unit)
    february = get(client, token, "/api/v1/statements?month=2026-02")["accounts"][0]
    assert february["opening_fen"] == 0 and february["closing_fen"] == account["opening_fen"]
    assert february["closing_fen"] == february["opening_fen"] + february["money_in_fen"] - february["money_out_fen"]
    balance = february["opening_fen"]
    for line in february["lines"]:
        balance += line["signed_fen"]
        assert line["balance_after_fen"] == balance
    assert [line["type"] for line in february["lines"]] == ["deposit", "allocation", "allocation", "allocation"]


def test_a_cards_statement_is_its_reserve_and_purse(app, client, world, token):
    b = books(app)
    answer = get(client, token, "/api/v1/statements?month=2026-03&card=9030000000000001")
    assert [a["account_kind"] for a in answer["accounts"]] == ["reserve", "purse"]
    c1 = world.cards["c1"].id
    for account in answer["accounts"]:
        ids = {a.id for a in b.accounts.values() if a.card_id == c1 and a.kind == account["account_kind"]}
        assert account["closing_fen"] == b.balance(ids)
        assert account["card_number"] == "9030000000000001"


@pytest.mark.parametrize("query", ("month=2026-02", "month=2026-03&card=9030000000000002"))
def test_statement_downloads_are_the_pages_files(client, world, token, query):
    api = client.get(f"/api/v1/statements/export.csv?{query}", headers=bearer(token))
    assert api.status_code == 200 and api.is_streamed and api.mimetype == "text/csv"
    assert api.headers["Content-Disposition"].startswith("attachment; filename=")
    body = api.get_data()
    api.close()
    signed_in(client, "acme_admin")
    page = client.get(f"/queries/statements/export.csv?{query}")
    assert body == page.get_data() and body.startswith("\ufeff".encode())
    xlsx = client.get(f"/api/v1/statements/export.xlsx?{query}", headers=bearer(token))
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    rows = f.xlsx_rows(xlsx.get_data())
    assert len(rows) == len(f.csv_rows(body))


def test_statement_download_closing_equals_the_json(client, world, token):
    body = client.get("/api/v1/statements/export.csv?month=2026-02", headers=bearer(token)).get_data()
    closing = f.csv_rows(body)[-1]
    answer = get(client, token, "/api/v1/statements?month=2026-02")["accounts"][0]
    assert f.csv_number(closing[6]) == answer["closing_fen"]
    assert (f.csv_number(closing[4]), f.csv_number(closing[5])) == (answer["money_in_fen"], answer["money_out_fen"])


def test_an_xlsx_with_too_many_rows_is_a_problem(app, client, world, token):
    app.config["EXPORT_XLSX_MAX_ROWS"] = 2
    response = client.get("/api/v1/statements/export.xlsx?month=2026-02", headers=bearer(token))
    problem(response, 422, "too_many_rows")
    assert (
        client.get("/api/v1/statements/export.csv?month=2026-02", headers=bearer(token), buffered=True).status_code
        == 200
    )


@pytest.mark.parametrize(
    "url", ("/api/v1/statements", "/api/v1/statements/export.csv", "/api/v1/statements/export.xlsx")
)
def test_statement_refusals(app, client, world, token, url):
    send = lambda query: client.get(f"{url}?{query}", headers=bearer(token))  # noqa: E731
    problem(send("month=2026-04"), 400, "bad_month")  # the future
    problem(send("month=1999-12"), 400, "bad_month")
    problem(send("month=2026-13"), 400, "bad_month")
    problem(send("month=march"), 422, "validation_failed")
    problem(send("month=2026-03&extra=1"), 422, "validation_failed")
    problem(send("card=9031000000000001"), 404, "card_not_found")  # another customer's card
    other = make_key(app, world.other.id, ["read"], name="Other")
    problem(client.get(f"{url}?card=9030000000000001", headers=bearer(other)), 404, "card_not_found")
    problem(client.get(url, headers=bearer(make_key(app, world.acme.id, ["cards"]))), 403, "scope_missing")


def test_statistics_refusals(client, world, token):
    for url in ("/api/v1/statistics/transactions", "/api/v1/statistics/points"):
        send = lambda query, url=url: client.get(f"{url}?{query}", headers=bearer(token))  # noqa: E731
        problem(send("start=2023-01-01&end=2026-03-01"), 400, "bad_filter")  # over STATISTICS_MAX_MONTHS
        problem(send("group=week"), 422, "validation_failed")
        problem(send("card=9031000000000001"), 404, "card_not_found")
        problem(send("limit=10"), 422, "validation_failed")  # not a list: no paging parameters
    problem(client.get("/api/v1/statistics/transactions?region=99", headers=bearer(token)), 400, "unknown_reference")
