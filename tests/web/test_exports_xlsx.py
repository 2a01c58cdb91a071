"""Export downloads over HTTP: one Content-Type, XLSX read back with openpyxl, and the XLSX row cap
with its page that offers the CSV."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.web.conftest import signed_in

PURCHASES = "/queries/purchases/export.{fmt}?preset=last_month"
EXPORTS = [
    PURCHASES,
    "/queries/account-transactions/export.{fmt}?preset=last_month",
    "/queries/points/export.{fmt}?preset=last_month",
    "/queries/statements/export.{fmt}?month=2026-02",
    "/statistics/transactions/export.{fmt}?preset=last_month&group=day",
    "/statistics/points/export.{fmt}?preset=last_month&group=day",
]


@pytest.fixture
def world(queries_world):
    return queries_world


def download(client, path):
    response = client.get(path)
    body = response.get_data()
    response.close()
    return response, body


@pytest.mark.parametrize("path", EXPORTS)
def test_content_type_is_sent_once(client, world, path):
    signed_in(client, "acme_admin")
    for fmt, expected in (
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ):
        response, _ = download(client, path.format(fmt=fmt))
        assert response.status_code == 200, path
        assert response.headers.getlist("Content-Type") == [expected]


@pytest.mark.parametrize("path", EXPORTS)
def test_every_xlsx_has_a_frozen_header_and_number_formats(client, world, path):
    signed_in(client, "acme_admin")
    response, body = download(client, path.format(fmt="xlsx"))
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, (int, float)):
                assert cell.number_format in ("#,##0.00", "#,##0"), (path, cell.coordinate)


def test_purchases_xlsx_totals_and_litres_match_the_csv(client, world):
    signed_in(client, "acme_admin")
    _, body = download(client, PURCHASES.format(fmt="xlsx"))
    sheet = load_workbook(io.BytesIO(body)).active
    header = [cell.value for cell in sheet[1]]
    amount, litres, price = header.index("金额（元）"), header.index("升数"), header.index("单价（元/升）")
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    lines, total = rows[:-1], rows[-1]
    assert lines and total[0] == "合计"
    assert Decimal(str(total[amount])) == sum(Decimal(str(line[amount])) for line in lines)
    assert total[price] is None
    # Litres as on screen: two decimals, the same text as the CSV's.
    _, csv_body = download(client, PURCHASES.format(fmt="csv"))
    csv_litres = [line.split(",")[litres] for line in csv_body.decode("utf-8-sig").splitlines()[1:]]
    assert [f"{Decimal(str(line[litres])):.2f}" for line in lines] == csv_litres
    assert all(Decimal(str(line[litres])) == Decimal(str(line[litres])).quantize(Decimal("0.01")) for line in lines)


def test_statement_xlsx_has_no_totals_row(client, world):
    """A statement's closing lines already total each account: a sum of all rows would double count."""
    signed_in(client, "acme_admin")
    _, body = download(client, "/queries/statements/export.xlsx?month=2026-02")
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet.cell(sheet.max_row, 3).value == "期末余额"


@pytest.mark.parametrize("path", EXPORTS[:3])
def test_the_xlsx_cap_stops_reading_rows_cleanly(app, client, world, path):
    """Stopping at the cap closes the rows' server-side cursor on PostgreSQL (a warning, an error
    under this suite's filterwarnings, if it were left to the garbage collector)."""
    app.config["EXPORT_XLSX_MAX_ROWS"] = 1
    signed_in(client, "acme_admin")
    response, _ = download(client, path.format(fmt="xlsx"))
    assert response.status_code == 422
    assert client.get("/queries/balances").status_code == 200  # the session is usable afterwards


def test_too_many_rows_for_xlsx_gets_a_page_that_offers_the_csv(app, client, world):
    app.config["EXPORT_XLSX_MAX_ROWS"] = 2
    signed_in(client, "acme_admin")
    response, body = download(client, PURCHASES.format(fmt="xlsx"))
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    page = body.decode()
    assert "超过 2 行" in page and "CSV" in page
    assert 'href="/queries/purchases/export.csv?preset=last_month"' in page
    assert 'href="/queries/purchases?preset=last_month"' in page
    csv_response, csv_body = download(client, PURCHASES.format(fmt="csv"))
    assert csv_response.status_code == 200
    assert len(csv_body.decode("utf-8-sig").splitlines()) > 3  # the CSV keeps every row


def test_too_many_rows_page_is_in_english_too(app, client, world):
    app.config["EXPORT_XLSX_MAX_ROWS"] = 1
    signed_in(client, "acme_admin")
    client.set_cookie("lang", "en")
    response, body = download(client, "/statistics/transactions/export.xlsx?preset=last_month&group=day")
    assert response.status_code == 422
    page = body.decode()
    assert "more than 1 rows" in page and "Download as CSV" in page
    assert 'href="/statistics/transactions/export.csv?preset=last_month&amp;group=day"' in page


def test_purchases_page_offers_only_the_csv_past_the_cap(app, client, world):
    signed_in(client, "acme_admin")
    page = client.get("/queries/purchases?preset=last_month").get_data(as_text=True)
    assert "export.xlsx" in page and 'data-testid="xlsx-too-many-rows"' not in page
    app.config["EXPORT_XLSX_MAX_ROWS"] = 2
    page = client.get("/queries/purchases?preset=last_month").get_data(as_text=True)
    assert "export.xlsx" not in page and "export.csv" in page
    assert "Excel（XLSX）文件最多 2 行" in page
