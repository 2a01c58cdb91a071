"""消费交易查询 through the test client: scope, filters, totals, keyset pages, bad input."""

from __future__ import annotations

import pytest

from tests.conftest import T0
from tests.web.conftest import signed_in


@pytest.fixture
def world(queries_world):
    return queries_world


def test_admin_sees_this_months_purchases_and_net_totals(client, world):
    signed_in(client, "acme_admin")
    page = client.get("/queries/purchases")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # This month: 100.00 + 80.00 - 20.00 refund; the other customer's and the declined ones are not counted.
    assert "¥160.00" in html
    assert "沪B20001" not in html


@pytest.mark.parametrize(
    "path",
    [
        "/queries/purchases",
        "/queries/purchases?tab=declined",
        "/queries/balances",
        "/queries/account-transactions",
        "/queries/points",
        "/queries/statements",
        "/statistics/transactions",
        "/statistics/transactions?group=card",
        "/queries/purchases/export.csv",
        "/queries/purchases/export.xlsx",
    ],
)
def test_smoke(client, world, path):
    signed_in(client, "acme_admin")
    response = client.get(path)
    response.get_data()  # a streamed export holds its transaction until read to the end
    assert response.status_code == 200
    response.close()


def test_home_summary_partial_renders_the_figures(app, world):
    from flask import render_template

    from portal.extensions import db
    from portal.queries.home import home_summary
    from portal.queries.scope import Scope

    with app.test_request_context("/"):
        summary = home_summary(db.session, Scope(world.acme.id), today=T0.date())
        html = render_template("queries/_home_summary.html", summary=summary)
    assert 'data-testid="home-unit"' in html and "¥4,000.00" in html
    assert "¥160.00" in html  # this month's purchases net of the refund
    assert 'data-alert="load_pending"' in html
