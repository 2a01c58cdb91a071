"""Purchase CSV exports: PostgreSQL's COPY path writes exactly the bytes of the portable writer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import buy
from tests.conftest import T0
from tests.web.conftest import signed_in


@pytest.fixture
def world(queries_world):
    return queries_world


PATHS = [
    "/queries/purchases/export.csv?preset=last_month",
    "/queries/purchases/export.csv?preset=this_month&order=asc",
    "/queries/purchases/export.csv?preset=this_month&tab=declined",
    "/queries/purchases/export.csv?preset=custom&start=2026-02-01&end=2026-03-02&card=9030000000000001",
]


def download(client, path) -> bytes:
    response = client.get(path)
    body = response.get_data()
    response.close()
    assert response.status_code == 200
    return body


def _awkward_names(session, fleet):
    """Names a spreadsheet or a CSV reader could trip on: formulas, quotes, commas, line breaks."""
    fleet.drivers["li"].name = '=HYPERLINK("x"),李'
    fleet.drivers["wang"].name = "-2+3"
    fleet.stations["S1"].name = 'Station "A", north\nexit'
    fleet.stations["S2"].name = "@SUM(1)"
    buy(session, fleet, fleet.cards["c3"], T0 - timedelta(hours=1), amount=1, litres_ml=4, points=0)
    session.commit()


@pytest.mark.postgres
@pytest.mark.parametrize("username", ["acme_admin", "li"])
def test_copy_export_matches_the_portable_writer_byte_for_byte(client, world, session, monkeypatch, username):  # noqa: F811
    _awkward_names(session, world)
    signed_in(client, username)
    copied = [download(client, path) for path in PATHS]
    monkeypatch.setattr("portal.exports.copy.available", lambda session: False)
    portable = [download(client, path) for path in PATHS]
    assert copied == portable
    assert copied[0].startswith("\ufeff".encode())
    assert b"'=HYPERLINK" in copied[0] or username == "li"
    assert len(copied[0].splitlines()) > 2


def test_csv_export_rows_are_exact(client, world):  # noqa: F811
    signed_in(client, "acme_admin")
    text = download(client, "/queries/purchases/export.csv?preset=last_month").decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[-1] == ""
    assert any(",300.00," in line and ",40.00," in line for line in lines)
