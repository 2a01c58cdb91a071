"""Command-line interface: `flask --app portal <command>`. Each command calls an area's services."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from portal.cli.chips import chips
    from portal.cli.demo import demo_data
    from portal.cli.jobs import jobs
    from portal.cli.ledger import ledger
    from portal.cli.notify import notify
    from portal.cli.reference import reference
    from portal.cli.statistics import statistics
    from portal.cli.users import users

    app.cli.add_command(users)
    app.cli.add_command(ledger)
    app.cli.add_command(demo_data)
    app.cli.add_command(reference)
    app.cli.add_command(chips)
    app.cli.add_command(statistics)
    app.cli.add_command(jobs)
    app.cli.add_command(notify)

    from portal.cli import stations

    stations.register(app)
