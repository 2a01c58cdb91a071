from __future__ import annotations

import time
import unicodedata

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.auth.passwords import DEFAULT_ROUNDS
from portal.demo import DemoConflict, DemoOptions, Login, build_demo, database_has_data, existing_logins
from portal.extensions import clock, db

#: bcrypt cost with --fast: quick to build, still a real bcrypt hash (the minimum cost bcrypt takes).
FAST_ROUNDS = 4


@click.command("demo-data")
@click.option("--customers", default=3, show_default=True, type=click.IntRange(1, 10), help="Corporate customers.")
# Defaults sized so that a first `make run` builds in well under a minute on SQLite: every purchase
# goes through purchase authorization (about 0.7 a day per card), which is most of the time.
@click.option("--cards", default=6, show_default=True, type=click.IntRange(1, 200), help="Sub-cards per customer.")
@click.option("--months", default=4, show_default=True, type=click.IntRange(1, 36), help="Months of history.")
@click.option("--seed", default=2026, show_default=True, type=click.IntRange(0, 10**9), help="Same seed, same world.")
@click.option("--if-empty", is_flag=True, help="Do nothing (but print the logins) if the database has data.")
@click.option("--fast", is_flag=True, help=f"Hash demo passwords with bcrypt cost {FAST_ROUNDS} (never in production).")
@with_appcontext
def demo_data(customers: int, cards: int, months: int, seed: int, if_empty: bool, fast: bool) -> None:
    """Build a demo world: regions, stations, customers, fleets, cards and months of activity."""
    options = DemoOptions(customers=customers, cards=cards, months=months, seed=seed)
    if if_empty and database_has_data(db.session):
        click.echo("The database already has data: demo-data left it as it is.")
        _print_logins(existing_logins(db.session, options))
        return
    rounds = FAST_ROUNDS if fast else current_app.config.get("BCRYPT_ROUNDS", DEFAULT_ROUNDS)
    started = time.perf_counter()
    try:
        result = build_demo(db.session, options, now=clock().now(), rounds=rounds)
    except DemoConflict as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    built = result.world.created_customers
    if built:
        click.echo(f"Built {built} demo customer(s) with {result.activity} in {time.perf_counter() - started:.1f} s.")
    else:
        click.echo("The demo world for this seed already exists: nothing added.")
    _print_logins(result.logins)


def _print_logins(logins: list[Login]) -> None:
    if not logins:
        click.echo("No demo logins in this database.")
        return
    rows = [("User name", "Password", "Role", "Customer / region")]
    rows += [(login.username, login.password, login.role, login.scope) for login in logins]
    widths = [max(_width(row[i]) for row in rows) for i in range(3)]
    click.echo("")
    click.echo("Demo logins (sign in at /auth/sign-in):")
    for n, row in enumerate(rows):
        cells = [row[i] + " " * (widths[i] - _width(row[i])) for i in range(3)]
        click.echo("  " + "  ".join(cells) + "  " + row[3])
        if n == 0:
            click.echo("  " + "  ".join("-" * w for w in widths) + "  " + "-" * 17)


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
