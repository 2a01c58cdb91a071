from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.reference.services import load_reference_data

reference = AppGroup("reference", help="Regions, products and stations.")


@reference.command("load")
def load() -> None:
    """Add the shipped regions, products and stations that are missing (never overwrites)."""
    counts = load_reference_data(db.session)
    db.session.commit()
    if counts.total:
        click.echo(f"added {counts}")
    else:
        click.echo("reference data already complete; nothing added")
