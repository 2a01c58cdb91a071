"""`flask --app portal jobs ...`: the scheduled jobs. `worker` is the long-running process production
runs (a systemd unit) and `make run` starts beside the web server; `run NAME` runs one job now."""

from __future__ import annotations

import logging
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from portal.extensions import clock
from portal.jobs.registry import JOBS
from portal.jobs.web import catch_up, consumer_for, run_job

jobs = AppGroup("jobs", help="Scheduled jobs (expiries, outbox delivery, pruning, ledger check).")


@jobs.command("list")
def list_jobs() -> None:
    """Every registered job, its schedule and next run (UTC)."""
    now = clock().now()
    for job in JOBS.values():
        click.echo(f"{job.name:16} every {job.every}  next {job.next_run(now):%Y-%m-%d %H:%M}  {job.description}")


@jobs.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
def run(name: str) -> None:
    """Run one job now (recorded on the system admin's jobs page); exit 1 if it fails or alerts."""
    result = run_job(current_app._get_current_object(), name, manual=True)
    click.echo(f"{name}: {result.status} in {result.duration_ms} ms")
    click.echo(result.detail)
    if result.status != "ok":
        sys.exit(1)


@jobs.command("worker")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Worker threads.")
def worker(workers: int) -> None:
    """Run the jobs on their schedules until stopped (Ctrl-C or SIGTERM). One per host, or several:
    each slot of a job runs once whichever worker wakes first."""
    if not logging.getLogger().handlers:  # the app's own log set-up, when there is one, wins
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    consumer = consumer_for(app, workers=workers)
    catch_up(app)
    consumer.run()
