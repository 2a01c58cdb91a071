"""Station-side commands: terminals (system admin), points expiry, demo traffic."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import clock, db
from portal.reference.models import Station
from portal.stations.models import Terminal
from portal.stations.terminals import TerminalError, create_terminal, revoke_terminal

terminals = AppGroup("terminals", help="Create and revoke station terminals (API keys).")
points = AppGroup("points", help="The points programme.")


@terminals.command("create")
@click.option("--station", "station_code", required=True, help="Station code, e.g. ST110001.")
@click.option("--name", required=True, help="Terminal name, e.g. 'pump 3'.")
def create(station_code: str, name: str) -> None:
    """Create a terminal and print its API key (shown this once only)."""
    station = db.session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        raise click.ClickException(f"no station with code {station_code!r}")
    try:
        terminal, key = create_terminal(db.session, station, name, now=clock().now())
    except TerminalError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"terminal {terminal.id} at {station.code} ({terminal.name})")
    click.echo(f"API key (store it now, it is not shown again): {key}")


@terminals.command("revoke")
@click.argument("terminal_id", type=int)
def revoke(terminal_id: int) -> None:
    """Revoke a terminal's API key at once."""
    terminal = db.session.get(Terminal, terminal_id)
    if terminal is None:
        raise click.ClickException(f"no terminal {terminal_id}")
    revoke_terminal(db.session, terminal, now=clock().now())
    db.session.commit()
    click.echo(f"terminal {terminal_id} revoked")


@terminals.command("list")
def list_terminals() -> None:
    """List terminals with their key prefixes."""
    for terminal in db.session.scalars(select(Terminal).order_by(Terminal.id)):
        state = "revoked" if terminal.revoked_at else "active"
        click.echo(f"{terminal.id}\tstation {terminal.station_id}\t{terminal.name}\t{terminal.key_prefix}…\t{state}")


@points.command("expire")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Expire points older than this (default 730).")
def expire(days: int | None) -> None:
    """Expire points older than the configured period (first in, first out)."""
    from flask import current_app

    from portal.points.services import DEFAULT_EXPIRY_DAYS, expire_points

    days = days or current_app.config.get("POINTS_EXPIRY_DAYS", DEFAULT_EXPIRY_DAYS)
    size = current_app.config["JOBS_BATCH_SIZE"]
    result = expire_points(db.session, now=clock().now(), days=days, batch_size=size, end_batch=db.session.commit)
    db.session.commit()
    click.echo(f"expired {result.points} points in {result.accounts} accounts (earned before {result.cutoff:%Y-%m-%d})")
    for account_id, reason in result.skipped.items():
        click.echo(f"skipped account {account_id}: {reason}")


@click.command("demo-traffic")
@click.option("--days", type=click.IntRange(1, 3660), default=7, show_default=True)
@click.option("--cards", type=click.IntRange(min=1), default=None, help="At most this many sub-cards (default all).")
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option(
    "--top-up/--no-top-up",
    default=True,
    show_default=True,
    help="Load the chip from the unit account when it is short (otherwise such fills decline).",
)
def demo_traffic(days: int, cards: int | None, seed: int, top_up: bool) -> None:
    """Drive realistic purchases (with some declines and anomalies) through purchase authorization."""
    from portal.stations.traffic import run_traffic

    result = run_traffic(
        db.session, days=days, cards=cards, seed=seed, end=clock().now(), top_up=top_up, commit=db.session.commit
    )
    db.session.commit()
    declines = ", ".join(f"{code} {n}" for code, n in sorted(result.declines_by_code.items())) or "none"
    click.echo(
        f"{result.purchases} purchases: {result.approved} approved, {result.declined} declined ({declines}), "
        f"{result.replayed} already there"
    )


def register(app) -> None:
    app.cli.add_command(terminals)
    app.cli.add_command(points)
    app.cli.add_command(demo_traffic)
