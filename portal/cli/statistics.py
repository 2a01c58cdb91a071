"""`flask --app portal statistics ...`: the daily purchase totals behind the statistics pages."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.purchases import rollup

statistics = AppGroup("statistics", help="Statistics (交易统计).")


@statistics.command("rebuild-rollup")
@click.option("--customer", "customer_id", type=int, default=None, help="Only this customer's totals.")
def rebuild_rollup(customer_id: int | None) -> None:
    """Recompute the daily purchase totals from the purchases (run once before PURCHASE_ROLLUP)."""
    rows = rollup.rebuild(db.session, customer_id)
    db.session.commit()
    click.echo(f"purchase_days: {rows} rows")
