"""`flask --app portal chips ...`: chip housekeeping (run from cron)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.chips.loads import expire_loads as void_overdue_loads
from portal.extensions import clock, db

chips = AppGroup("chips", help="Chip loads (资金圈存).")


@chips.command("expire-loads")
def expire_loads() -> None:
    """Void every load request whose hold has expired (run from cron, e.g. every 10 minutes)."""
    count = void_overdue_loads(db.session, now=clock().now())
    db.session.commit()
    click.echo(f"{count} load request(s) expired")
