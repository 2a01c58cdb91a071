"""The daily purchase totals behind the pages: the rebuild command, and the pages reading them."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import signed_in


@pytest.fixture
def world(queries_world):
    return queries_world


PATHS = [
    "/queries/purchases",
    "/queries/purchases?tab=declined&preset=custom&start=2026-02-01&end=2026-03-02",
    "/statistics/transactions?preset=custom&start=2026-01-01&end=2026-03-02&group=month",
    "/statistics/transactions?preset=last_month&group=product",
    "/statistics/transactions/export.csv?preset=custom&start=2026-01-01&end=2026-03-02&group=day",
]


def fetch(client, path) -> bytes:
    """The body without its CSRF tokens (signed with the wall-clock second, so they may differ)."""
    return re.sub(rb'(content|value)="[^"]*\.[^"]*\.[^"]*"', b"", client.get(path).get_data())


def test_rebuild_command_fills_the_totals(runner, world):  # noqa: F811
    result = runner.invoke(args=["statistics", "rebuild-rollup"])
    assert result.exit_code == 0, result.output
    assert "purchase_days: " in result.output
    assert int(result.output.split(": ")[1].split()[0]) > 0


@pytest.mark.parametrize("path", PATHS)
def test_pages_read_the_same_figures_from_the_totals(app, client, runner, world, path):  # noqa: F811
    assert runner.invoke(args=["statistics", "rebuild-rollup"]).exit_code == 0
    signed_in(client, "acme_admin")
    from_purchases = fetch(client, path)
    app.config["PURCHASE_ROLLUP"] = True
    from_totals = fetch(client, path)
    assert from_totals == from_purchases
    assert "¥".encode() in from_totals or path.endswith("group=day")
