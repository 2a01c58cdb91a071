from __future__ import annotations

import click


@click.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Do nothing (but print the logins) if the database has data.")
def demo_data(if_empty: bool) -> None:
    """Build a demo world (being written)."""
    raise click.ClickException("demo-data is not written yet")
