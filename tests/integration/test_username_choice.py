"""Choosing a user name: names stay unique (in any case), a taken one is refused the same way whoever
has it, with a free name suggested instead (services, no Flask)."""

import re

import pytest

from portal.auth import registration, services
from portal.auth.policy import PasswordPolicy
from portal.drivers import services as drivers
from tests.builders import create_user as add_user
from tests.builders import two_fleets
from tests.conftest import T0

POLICY = PasswordPolicy()
#: What the registration form accepts (the narrower of the two forms that choose a name).
REGISTRATION_NAME = re.compile(r"^(?![0-9]+$)[A-Za-z0-9._-]{3,32}$")


@pytest.fixture
def fleets(session):
    one, two = two_fleets(session, T0)  # users admin1, driver1 (fleet 1) and admin2, driver2 (fleet 2)
    session.commit()
    return one, two


def add_driver(session, fleet, username):
    return drivers.add_driver(
        session,
        fleet.customer.id,
        name="张三",
        username=username,
        actor_id=fleet.admin_id,
        now=T0,
        policy=POLICY,
        rounds=4,
    )


def test_a_free_name_is_claimed_stripped_and_a_taken_one_in_any_case_is_refused_with_a_free_suggestion(session):
    add_user(session, "Wang.Li", "sysadmin", T0)
    assert services.claim_username(session, "  zhao.qian ") == "zhao.qian"
    with pytest.raises(services.UsernameTaken) as taken:
        services.claim_username(session, "wang.li")
    suggestion = taken.value.suggestion
    assert suggestion.lower().startswith("wang.li") and suggestion[len("wang.li") :].isdigit()
    assert services.find_user(session, suggestion) is None and REGISTRATION_NAME.match(suggestion)


def test_a_suggestion_for_a_long_name_still_fits_the_forms(session):
    name = "a" * 30 + ".fleet"
    add_user(session, name, "sysadmin", T0)
    with pytest.raises(services.UsernameTaken) as taken:
        services.claim_username(session, name.upper())
    assert REGISTRATION_NAME.match(taken.value.suggestion)
    assert services.find_user(session, taken.value.suggestion) is None


def test_another_company_s_name_is_refused_exactly_like_one_of_ours(session, fleets):
    one, _ = fleets
    refusals = []
    for name in ("driver1", "driver2", "ADMIN2"):  # own driver, fleet 2's driver, fleet 2's admin
        with pytest.raises(drivers.UsernameTaken) as taken:
            add_driver(session, one, name)
        session.rollback()
        refusals.append(taken.value)
    assert {(type(e), e.code, str(e)) for e in refusals} == {
        (drivers.UsernameTaken, "username_taken", str(refusals[0]))
    }
    for refusal in refusals:
        assert services.find_user(session, refusal.suggestion) is None
    _, user, _ = add_driver(session, one, refusals[1].suggestion)  # the suggestion can be used
    assert user.username == refusals[1].suggestion


def test_a_driver_login_added_later_is_checked_the_same_way(session, fleets):
    from portal.drivers.models import Driver

    one, _ = fleets
    driver = Driver(customer_id=one.customer.id, name="王五", created_at=T0)
    session.add(driver)
    session.flush()
    with pytest.raises(drivers.UsernameTaken) as taken:
        drivers.create_driver_login(session, driver, "admin2", actor_id=one.admin_id, now=T0, policy=POLICY, rounds=4)
    assert services.find_user(session, taken.value.suggestion) is None


def test_registration_refuses_another_company_s_name_with_a_free_suggestion(session, fleets):
    from tests.builders import auth_customers

    session.rollback()
    world = auth_customers(session, T0)
    row, code = registration.start(session, world.main_card_a, world.credit_code_a, world.phone_a, now=T0)
    with pytest.raises(registration.UsernameTaken) as taken:
        registration.complete(session, row.id, code, "Admin2", "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)
    assert isinstance(taken.value, services.UsernameTaken)
    suggestion = taken.value.suggestion
    assert REGISTRATION_NAME.match(suggestion) and services.find_user(session, suggestion) is None
    user = registration.complete(session, row.id, code, suggestion, "Fleet-Pass-2026", policy=POLICY, rounds=4, now=T0)
    assert user.username == suggestion


def test_every_account_creation_goes_through_the_one_check(session):
    add_user(session, "root", "sysadmin", T0)
    with pytest.raises(services.UsernameTaken):
        services.create_user(session, username=" ROOT ", password="x", role="sysadmin", rounds=4, now=T0)


def test_a_name_claimed_at_the_same_time_in_another_case_is_refused_by_the_database_not_a_500(
    session, fleets, monkeypatch
):
    """The check and the insert are two statements: a request that passed the check while another
    created the name meets the case-insensitive unique index, and gets the same refusal."""
    monkeypatch.setattr(services, "claim_username", lambda session, username: username.strip())
    with pytest.raises(services.UsernameTaken) as taken:
        services.create_user(session, username="ADMIN1", password="x", role="sysadmin", rounds=4, now=T0)
    assert services.find_user(session, taken.value.suggestion) is None
    assert services.find_user(session, "admin1").username == "admin1"  # the session is still usable
