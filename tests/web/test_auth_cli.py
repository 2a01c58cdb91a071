"""`flask --app portal users ...`: the policy applies on the command line too."""

from tests.builders import auth_customers
from tests.web.conftest import Db, login


def test_create_sysadmin_enforces_the_policy_and_can_sign_in(runner, client):
    weak = runner.invoke(args=["users", "create-sysadmin", "root"], input="password1\npassword1\n")
    assert weak.exit_code != 0 and "Password rules" in weak.output
    ok = runner.invoke(args=["users", "create-sysadmin", "root"], input="Sys-Admin-2026\nSys-Admin-2026\n")
    assert ok.exit_code == 0, ok.output
    assert login(client, "root", "Sys-Admin-2026").status_code == 302


def test_create_staff_needs_a_known_region(runner, app, clock):
    Db(app)(lambda s: auth_customers(s, clock.now()))
    unknown = runner.invoke(args=["users", "create-staff", "bj", "--region", "99"], input="Staff-Pass-2026\n" * 2)
    assert unknown.exit_code != 0
    ok = runner.invoke(args=["users", "create-staff", "bj", "--region", "11"], input="Staff-Pass-2026\n" * 2)
    assert ok.exit_code == 0, ok.output


def test_password_rules_are_printed(runner):
    result = runner.invoke(args=["users", "password-rules"])
    assert result.exit_code == 0 and "10,000" in result.output
