"""`flask --app portal chips ...`: chip housekeeping (run from cron)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from portal.chips.loads import expire_overdue_loads
from portal.extensions import clock, db

chips = AppGroup("chips", help="Chip loads (资金圈存).")


@chips.command("expire-loads")
def expire_loads() -> None:
    """Void every load request whose hold has expired (run from cron, e.g. every 10 minutes)."""
    size = current_app.config["JOBS_BATCH_SIZE"]
    result = expire_overdue_loads(db.session, now=clock().now(), batch_size=size, end_batch=db.session.commit)
    db.session.commit()
    click.echo(f"{result.expired} load request(s) expired")
    for load_id, error in result.failed.items():
        click.echo(f"not expired: load {load_id}: {error}")
    if result.failed:
        sys.exit(1)
