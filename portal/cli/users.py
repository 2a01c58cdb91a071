"""`flask --app portal users ...`: accounts that are not created through the web (system admins, staff)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select

from portal.auth import credentials, services
from portal.auth.policy import PasswordPolicy
from portal.extensions import clock, db
from portal.reference.models import Region

users = AppGroup("users", help="Manage user accounts.")


def _policy() -> PasswordPolicy:
    return PasswordPolicy.from_config(current_app.config)


def _password_option(command):
    return click.password_option(help="The password; see `flask --app portal users password-rules`.")(command)


def _create(username: str, password: str, role: str, **fields) -> None:
    try:
        services.create_user(
            db.session,
            username=username,
            password=password,
            role=role,
            rounds=current_app.config.get("BCRYPT_ROUNDS", 12),
            now=clock().now(),
            policy=_policy(),
            **fields,
        )
    except services.UsernameTaken as taken:
        raise click.ClickException(f"user {username!r} already exists; {taken.suggestion!r} is free") from None
    except services.PasswordRejected as rejected:
        with force_locale("en"):  # the command line speaks English (no request to pick a locale from)
            rules = "\n".join(f"  - {rule}" for rule in _policy().rules())
            problems = "\n".join(f"  - {problem}" for problem in rejected.problems)
        raise click.ClickException(f"password refused:\n{problems}\nPassword rules:\n{rules}") from None
    db.session.commit()


@users.command("create-sysadmin")
@click.argument("username")
@_password_option
def create_sysadmin(username: str, password: str) -> None:
    """Create a system admin who sets up regions, stations and staff."""
    _create(username, password, "sysadmin")
    click.echo(f"created system admin {username}")


@users.command("create-staff")
@click.argument("username")
@click.option("--region", "region_code", required=True, help="Two-digit region code, e.g. 11 for Beijing.")
@click.option("--name", "display_name", default="", help="The person's name.")
@_password_option
def create_staff(username: str, region_code: str, display_name: str, password: str) -> None:
    """Create a support staff member of one region."""
    region = db.session.scalar(select(Region).where(Region.code == region_code))
    if region is None:
        raise click.ClickException(f"no region with code {region_code!r}")
    _create(username, password, "staff", region_id=region.id, display_name=display_name)
    click.echo(f"created support staff {username} for region {region_code}")


@users.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """End a user's lockout now."""
    user = services.find_user(db.session, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    credentials.unlock(db.session, None, user, now=clock().now())
    db.session.commit()
    click.echo(f"unlocked {username}")


@users.command("password-rules")
def password_rules() -> None:
    """Print the password rules in force."""
    with force_locale("en"):
        for rule in _policy().rules():
            click.echo(f"- {rule}")
