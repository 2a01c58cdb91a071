from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.auth import services
from portal.extensions import clock, db

users = AppGroup("users", help="Manage user accounts.")


@users.command("create-sysadmin")
@click.argument("username")
@click.password_option()
def create_sysadmin(username: str, password: str) -> None:
    """Create a system admin who sets up regions, stations and staff."""
    if services.find_user(db.session, username) is not None:
        raise click.ClickException(f"user {username!r} already exists")
    services.create_user(
        db.session,
        username=username,
        password=password,
        role="sysadmin",
        rounds=current_app.config.get("BCRYPT_ROUNDS", 12),
        now=clock().now(),
    )
    db.session.commit()
    click.echo(f"created system admin {username}")
