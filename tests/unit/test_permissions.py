"""The policy table and the object-level scope rule, without Flask or a database."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portal.auth.permissions import PERMISSIONS, PUBLIC, ROLE_PERMISSIONS, Actor, Owner, allows, reaches

ADMIN = Actor("admin", customer_id=1)
DRIVER = Actor("driver", customer_id=1, driver_id=7)
STAFF = Actor("staff", region_id=3)
SYSADMIN = Actor("sysadmin")


def test_every_granted_permission_is_defined():
    for role, granted in ROLE_PERMISSIONS.items():
        assert granted <= set(PERMISSIONS), role


def test_allows_reads_the_table():
    assert allows("admin", "funds.move") and not allows("driver", "funds.move")
    assert allows("staff", "funds.deposit") and not allows("admin", "funds.deposit")
    assert all(allows(role, PUBLIC) for role in (*ROLE_PERMISSIONS, None))
    assert not allows(None, "queries.view") and not allows("nobody", "queries.view")
    with pytest.raises(KeyError):
        allows("admin", "funds.mvoe")


def test_admins_reach_their_customers_objects_only():
    assert reaches(ADMIN, Owner(customer_id=1))
    assert reaches(ADMIN, Owner(customer_id=1, driver_id=99))
    assert not reaches(ADMIN, Owner(customer_id=2))
    assert not reaches(Actor("admin"), Owner())


def test_drivers_reach_only_what_is_assigned_to_them():
    assert reaches(DRIVER, Owner(customer_id=1, driver_id=7))
    assert not reaches(DRIVER, Owner(customer_id=1, driver_id=8))
    assert not reaches(DRIVER, Owner(customer_id=1))  # the customer's, assigned to nobody
    assert not reaches(DRIVER, Owner(customer_id=2, driver_id=7))


def test_staff_reach_their_region_and_sysadmins_no_customer_object():
    assert reaches(STAFF, Owner(customer_id=5, region_id=3))
    assert not reaches(STAFF, Owner(customer_id=5, region_id=4))
    assert not reaches(STAFF, Owner(customer_id=5))
    assert not reaches(SYSADMIN, Owner(customer_id=1, region_id=3))


def test_the_policy_never_imports_flask():
    code = (
        "import sys, portal.auth.permissions;"
        "sys.exit(1 if any(m == 'flask' or m.startswith('flask') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
