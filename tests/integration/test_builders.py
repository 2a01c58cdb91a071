"""Every shared scenario of tests/builders.py builds on an empty database and leaves a ledger that verifies."""

import pytest

from portal import ledger
from tests import builders
from tests.conftest import T0

SCENARIOS = {
    "auth_customers": lambda s: builders.auth_customers(s, T0),
    "two_fleets": lambda s: builders.two_fleets(s, T0),
    "fleet_history": lambda s: builders.history_users(s, builders.fleet_history(s, T0), T0),
    "station_setup": lambda s: builders.station_setup(s, now=T0),
    "funds_customers": lambda s: builders.funds_customers(s, T0),
    "showcase": lambda s: builders.showcase(s, now=T0),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_builds_and_the_ledger_verifies(session, name):
    SCENARIOS[name](session)
    session.commit()
    assert ledger.verify(session).ok


def test_funds_customers_start_with_money_in_a_only(session):
    w = builders.funds_customers(session, T0)
    session.commit()
    assert builders.unit_balance(session, w.a) == builders.UNIT_A
    assert builders.reserve_balance(session, w.a1) == 0


def test_the_factory_fixtures_share_the_tests_session(session, create_region, create_customer, create_card, fund_card):
    customer = create_customer(create_region("31"), name="丙快运有限公司", credit_code="91310000000000003C")
    card = create_card(customer)
    fund_card(card, reserve=500, purse=200, now=T0)
    session.commit()
    assert card.number.startswith("90303")
    assert (builders.reserve_balance(session, card), builders.purse_balance(session, card)) == (500, 200)
