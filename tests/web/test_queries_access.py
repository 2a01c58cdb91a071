"""Who sees what, and bad input, through the test client: drivers only their cards (pages, filters
and export URLs), other customers nothing, staff and system admins not at all; 400s, never 500s."""

from __future__ import annotations

import csv
import io

import pytest

from tests.web.conftest import signed_in


@pytest.fixture
def world(queries_world):
    return queries_world


PAGES = [
    "/queries/purchases",
    "/queries/balances",
    "/queries/account-transactions",
    "/queries/points",
    "/queries/statements",
    "/statistics/transactions",
    "/statistics/points",
]
EXPORTS = [
    "/queries/purchases/export.csv",
    "/queries/account-transactions/export.csv",
    "/queries/points/export.xlsx",
    "/queries/statements/export.csv",
    "/statistics/transactions/export.csv",
    "/statistics/points/export.xlsx",
]


def fetch(client, path):
    response = client.get(path)
    body = response.get_data()
    response.close()
    return response.status_code, body


@pytest.mark.parametrize("username", ["staff1", "root"])
def test_staff_and_system_admins_are_refused(client, world, username):  # noqa: F811
    signed_in(client, username)
    for path in PAGES + EXPORTS:
        assert fetch(client, path)[0] == 403, path


def test_anonymous_users_go_to_sign_in(client, world):  # noqa: F811
    for path in PAGES:
        assert client.get(path).status_code == 302


def test_driver_sees_only_their_card(client, world):  # noqa: F811
    signed_in(client, "li")
    status, body = fetch(client, "/queries/purchases/export.csv?preset=custom&start=2026-01-01&end=2026-03-02")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]
    assert status == 200 and rows
    assert {row[2] for row in rows} == {world.cards["c1"].number}
    html = fetch(client, "/queries/purchases?preset=custom&start=2026-01-01&end=2026-03-02")[1].decode()
    assert "京A10002" not in html and "王师傅" not in html
    assert world.cards["c2"].number not in fetch(client, "/queries/balances")[1].decode()
    # Statistics are for fleet admins.
    assert fetch(client, "/statistics/transactions")[0] == 403


@pytest.mark.parametrize("card", ["c2", "x1"])
@pytest.mark.parametrize(
    "path",
    [
        "/queries/purchases",
        "/queries/purchases/export.csv",
        "/queries/points/export.csv",
        "/queries/account-transactions",
        "/queries/statements",
    ],
)
def test_naming_a_foreign_card_shows_nothing(client, world, card, path):  # noqa: F811
    signed_in(client, "li")
    status, body = fetch(client, f"{path}?card={world.cards[card].number}")
    assert status == 400
    text = body.decode()
    assert 'data-testid="rows"' not in text and "京A1000" not in text and "沪B" not in text


def test_another_customer_sees_none_of_acme(client, world):  # noqa: F811
    signed_in(client, "other_admin")
    html = fetch(client, "/queries/purchases?preset=custom&start=2026-01-01&end=2026-03-02")[1].decode()
    assert "沪B20001" in html and "京A10001" not in html
    assert fetch(client, f"/queries/purchases?card={world.cards['c1'].number}")[0] == 400
    assert "9030000000000001" not in fetch(client, "/queries/balances")[1].decode()


@pytest.mark.parametrize(
    "query",
    [
        "preset=custom&start=2026-02-31&end=2026-03-01",
        "preset=custom&start=2026-03-02&end=2026-03-01",
        "preset=custom&start=2020-01-01&end=2026-03-01",
        "preset=custom&start=2026-03-01",
        "preset=someday",
        "unknown=1",
        "type=theft",
        "order=sideways",
        "driver=abc",
        "card=12ab",
        "station=NOPE",
        "product=99",
        "region=99",
        "cursor=forged",
        "plate=" + "x" * 300,
    ],
)
def test_bad_filters_are_400_with_a_message(client, world, query):  # noqa: F811
    signed_in(client, "acme_admin")
    response = client.get("/queries/purchases?" + query)
    assert response.status_code == 400
    assert 'data-testid="filter-error"' in response.get_data(as_text=True)
    if not query.startswith("cursor"):  # exports have no pages: they ignore the cursor
        assert fetch(client, "/queries/purchases/export.csv?" + query)[0] == 400


@pytest.mark.parametrize(
    "path",
    [
        "/statistics/transactions?group=week",
        "/statistics/transactions?preset=custom&start=2020-01-01&end=2026-03-01",
        "/statistics/points?group=product",
        "/queries/statements?month=2026-13",
        "/queries/statements?month=2099-01",
        "/queries/statements?month=x",
        "/queries/statements?month=0000-01",
        "/queries/statements?month=0001-01",
        "/queries/statements?month=9999-12",
        "/queries/statements?month=%D9%A2%D9%A0%D9%A2%D9%A6-%D9%A0%D9%A1",  # Arabic-Indic digits
        "/queries/statements/export.csv?month=0000-01",
        "/queries/purchases?preset=custom&start=0001-01-01&end=0001-01-31",
        "/queries/purchases?preset=custom&start=9999-12-01&end=9999-12-31",
        "/queries/purchases/export.xlsx?preset=custom&start=0001-01-01&end=9999-12-31",
        "/queries/account-transactions?preset=custom&start=0001-01-01&end=0001-01-02",
        "/queries/account-transactions/export.xlsx?preset=custom&start=0001-01-01&end=9999-12-31",
        "/queries/points?preset=custom&start=9999-12-30&end=9999-12-31",
        "/statistics/transactions?preset=custom&start=0001-01-01&end=0001-01-31",
        "/statistics/transactions?preset=custom&start=9999-12-01&end=9999-12-31&group=day",
        "/statistics/points?preset=custom&start=0001-01-01&end=9999-12-31",
        "/statistics/transactions/export.csv?preset=custom&start=9999-12-01&end=9999-12-31",
        "/queries/balances?sort=secret",
        "/queries/balances?status=gone",
        "/queries/balances?hack=1",
        "/queries/account-transactions?type=purchase",
        "/queries/points?cursor=abc",
    ],
)
def test_other_pages_refuse_bad_input_with_400(client, world, path):  # noqa: F811
    signed_in(client, "acme_admin")
    assert fetch(client, path)[0] == 400


def test_keyset_pages_through_the_web(app, client, world):  # noqa: F811
    app.config["PAGE_SIZE"] = 2
    signed_in(client, "acme_admin")
    url, seen = "/queries/purchases?preset=custom&start=2026-01-01&end=2026-03-02", []
    import re

    while url:
        html = client.get(url).get_data(as_text=True)
        seen += re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d)</td>", html)
        match = re.search(r'href="([^"]+)" rel="next"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)


def test_csv_export_has_bom_and_the_page_totals(client, world):  # noqa: F811
    signed_in(client, "acme_admin")
    response = client.get("/queries/purchases/export.csv?preset=custom&start=2026-01-01&end=2026-03-02")
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]
    from decimal import Decimal

    # A refund's row is negative, as on the page: the column adds up to the page's net total.
    assert sum(Decimal(r[10]) for r in rows) == Decimal("810.00")
    assert [r[10] for r in rows if r[1] in ("Refund", "退款")] == ["-20.00"]


def test_statement_page_and_print_script(client, world):  # noqa: F811
    signed_in(client, "acme_admin")
    html = client.get(f"/queries/statements?month=2026-02&card={world.cards['c1'].number}").get_data(as_text=True)
    assert 'data-testid="statement-reserve"' in html and 'data-testid="statement-purse"' in html
    assert "js/print.js" in html and "css/queries.css" in html


def test_dates_outside_the_books_are_refused_with_a_chinese_message(client, world):  # noqa: F811
    signed_in(client, "acme_admin")
    status, body = fetch(client, "/queries/purchases?preset=custom&start=0001-01-01&end=0001-01-31")
    assert status == 400
    assert "开始日期必须在 2000-01-01 至 2099-12-31 之间。" in body.decode()
