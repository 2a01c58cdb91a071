"""Drivers, driver logins and vehicles (services, no Flask)."""

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.auth.models import LoginSession
from portal.auth.passwords import check_password
from portal.auth.policy import PasswordPolicy
from portal.auth.services import authenticate, start_session
from portal.drivers import services
from tests.builders import two_fleets
from tests.conftest import T0

POLICY = PasswordPolicy()


@pytest.fixture
def fleet(session):
    fleet, _ = two_fleets(session, T0)
    session.commit()
    return fleet


def add(session, fleet, username="zhang.san", **fields):
    return services.add_driver(
        session,
        fleet.customer.id,
        name="张三",
        username=username,
        actor_id=fleet.admin_id,
        now=T0,
        policy=POLICY,
        rounds=4,
        **fields,
    )


def test_add_driver_creates_a_login_with_a_one_time_password(session, fleet):
    driver, user, password = add(session, fleet, phone="13900000000")
    session.commit()
    assert not POLICY.problems(password, username="zhang.san")
    assert (user.role, user.driver_id, user.customer_id, user.must_change_password) == (
        "driver",
        driver.id,
        fleet.customer.id,
        True,
    )
    assert check_password(password, user.password_hash)
    assert authenticate(session, "zhang.san", password, now=T0, rounds=4).id == user.id
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "drivers.add"))
    assert password not in str(event.detail)


def test_username_taken_or_malformed_is_refused_and_nothing_is_added(session, fleet):
    with pytest.raises(services.UsernameTaken):
        add(session, fleet, username="ADMIN1")  # user names are case-insensitive
    with pytest.raises(services.InvalidUsername):
        add(session, fleet, username="a b")
    session.rollback()
    assert [d.name for d in services.search_drivers(session, fleet.customer.id)] == ["司机1"]


def test_deactivate_disables_the_login_and_ends_its_sessions(session, fleet):
    driver, user, password = add(session, fleet)
    start_session(session, user, now=T0)
    session.commit()
    services.set_driver_active(session, driver, False, actor_id=fleet.admin_id, now=T0)
    session.commit()
    assert not user.active and driver.deactivated_at == T0
    assert session.scalar(select(LoginSession).where(LoginSession.user_id == user.id)).revoked_at == T0
    assert services.search_drivers(session, fleet.customer.id, active=True) == [fleet.driver]
    services.set_driver_active(session, driver, True, actor_id=fleet.admin_id, now=T0)
    assert user.active and driver.deactivated_at is None


def test_reset_password_gives_a_new_one_time_password(session, fleet):
    driver, user, first = add(session, fleet)
    user.must_change_password = False
    second = services.reset_driver_password(session, driver, actor_id=fleet.admin_id, now=T0, policy=POLICY, rounds=4)
    assert second != first and user.must_change_password
    assert check_password(second, user.password_hash)


def test_update_driver_and_search(session, fleet):
    driver, user, _ = add(session, fleet, employee_no="E-007")
    services.update_driver(session, driver, name="张三丰", phone="139", actor_id=fleet.admin_id, now=T0)
    assert user.display_name == "张三丰"
    assert services.search_drivers(session, fleet.customer.id, query="E-00") == [driver]
    assert services.search_drivers(session, fleet.customer.id, query="%") == []
    with pytest.raises(ValueError):
        services.update_driver(session, driver, customer_id=2, actor_id=fleet.admin_id, now=T0)


def test_vehicles_plate_normalised_unique_per_customer(session, fleet):
    vehicle = services.add_vehicle(
        session, fleet.customer.id, plate="京b·d12345", tank_ml=60_000, model="比亚迪", actor_id=fleet.admin_id, now=T0
    )
    assert vehicle.plate == "京BD12345"
    with pytest.raises(services.PlateTaken):
        services.add_vehicle(session, fleet.customer.id, plate="京BD12345", tank_ml=1, actor_id=None, now=T0)
    with pytest.raises(services.InvalidPlate):
        services.add_vehicle(session, fleet.customer.id, plate="ABC", tank_ml=1, actor_id=None, now=T0)
    with pytest.raises(ValueError):
        services.add_vehicle(session, fleet.customer.id, plate="京C12345", tank_ml=0, actor_id=None, now=T0)
    services.set_vehicle_active(session, vehicle, False, actor_id=None, now=T0)
    assert services.search_vehicles(session, fleet.customer.id, active=True) == [fleet.vehicle]
    assert services.search_vehicles(session, fleet.customer.id, query="bd123") == [vehicle]


def test_a_login_name_claimed_meanwhile_is_refused_as_taken_not_a_500(session, fleet, monkeypatch):
    """The name check and the insert are two statements: a name another admin created between them
    is refused by the database, and the admin gets the same refusal with a suggestion."""
    monkeypatch.setattr(services, "_check_username", lambda session, username: username.strip())
    with pytest.raises(services.UsernameTaken):
        add(session, fleet, username="ADMIN1")
