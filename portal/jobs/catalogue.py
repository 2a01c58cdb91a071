"""The scheduled jobs. Each is registered once (portal.jobs.registry) and calls one area's services;
`config` is the app's settings as plain data (the runner passes it), so the jobs stay free of Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from portal import ledger
from portal.apikeys.services import prune_idempotency
from portal.auth.housekeeping import Retention, prune_sign_in_records
from portal.batches import DEFAULT_BATCH_SIZE, EndBatch, delete_in_batches
from portal.chips.loads import expire_overdue_loads
from portal.jobs.models import JobRun
from portal.jobs.registry import Counts, JobAlert, job
from portal.notify import services as outbox
from portal.points.services import DEFAULT_EXPIRY_DAYS, expire_points
from portal.webhooks import delivery as webhooks

log = logging.getLogger(__name__)


def batch_size(config: Mapping[str, Any]) -> int:
    """Rows per committed batch of a bulk job (JOBS_BATCH_SIZE): no run holds more locks than this."""
    return int(config.get("JOBS_BATCH_SIZE", DEFAULT_BATCH_SIZE))


@job("expire-loads", every=timedelta(minutes=10))
def expire_loads(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Void chip loads whose hold has expired: the ledger hold and the load request, committing every
    batch; a load that fails is left for the next run and fails this one, after the others expired."""
    result = expire_overdue_loads(session, now=now, batch_size=batch_size(config), end_batch=session.commit)
    if result.failed:
        session.commit()
        raise LoadsNotExpired(
            f"{result.expired} load request(s) expired; {len(result.failed)} could not be: "
            + "; ".join(f"{load_id} ({error})" for load_id, error in result.failed.items())
        )
    return {"loads_expired": result.expired}


class LoadsNotExpired(RuntimeError):
    """Some overdue loads could not be voided (the others were); the run is recorded as failed."""


@job("deliver-outbox", every=timedelta(minutes=1), timeout=timedelta(minutes=15))
def deliver_outbox(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Send mail and SMS not sent at once, retrying with exponential backoff."""
    ids = outbox.due(session, now=now)
    sent = 0
    for message_id in ids:  # committed one by one: a worker stopped mid-batch re-sends nothing it sent
        sent += outbox.deliver(session, [message_id], config["OUTBOX_BACKENDS"], now=now)
        session.commit()
    return {"messages_due": len(ids), "messages_sent": sent, "messages_given_up": outbox.given_up(session)}


@job("deliver-webhooks", every=timedelta(minutes=1), timeout=timedelta(minutes=15))
def deliver_webhooks(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Send due webhook deliveries, retrying with backoff; disable endpoints that fail for a day."""
    return webhooks.deliver_due(session, webhooks.Settings.from_config(config), now=now)


@job("prune", every=timedelta(hours=1), offset=timedelta(minutes=5))
def prune(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Delete ended sessions, idle throttles, dead codes, old messages, webhook deliveries and old API
    idempotency records; clear delivered bodies. Committing every batch: a backlog of millions (a first
    run, a long outage) never locks them at once."""
    keep = Retention(session_idle=config["SESSION_IDLE_TIMEOUT"], session_absolute=config["SESSION_ABSOLUTE_TIMEOUT"])
    batches = {"batch_size": batch_size(config), "end_batch": session.commit}
    counts = prune_sign_in_records(session, now=now, keep=keep, **batches)
    counts["bodies_cleared"] = outbox.clear_delivered_bodies(
        session, now=now, after=config.get("OUTBOX_CLEAR_BODY_AFTER", timedelta(minutes=10)), **batches
    )
    counts["messages"] = outbox.prune(session, now=now, keep=config.get("OUTBOX_KEEP", timedelta(days=90)), **batches)
    counts["webhook_deliveries"] = webhooks.prune(
        session, now=now, keep=config.get("OUTBOX_KEEP", timedelta(days=90)), **batches
    )
    counts["job_runs"] = prune_runs(session, now=now, keep=config.get("JOB_RUNS_KEEP", timedelta(days=30)), **batches)
    counts["api_idempotency"] = prune_idempotency(session, now=now)
    return counts


# 19:30 UTC is 03:30 in Shanghai: after the business day's traffic.
@job("points-expire", every=timedelta(days=1), offset=timedelta(hours=19, minutes=30), timeout=timedelta(hours=3))
def points_expire(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Expire old points, committing every batch; accounts the ledger refuses are skipped and listed."""
    days = config.get("POINTS_EXPIRY_DAYS", DEFAULT_EXPIRY_DAYS)
    result = expire_points(session, now=now, days=days, batch_size=batch_size(config), end_batch=session.commit)
    for account_id, reason in result.skipped.items():
        log.warning("points expiry skipped account %s: %s", account_id, reason)
    counts: Counts = {"points_expired": result.points, "accounts": result.accounts}
    if result.skipped:
        counts["skipped_accounts"] = sorted(result.skipped)
    return counts


# 19:00 UTC is 03:00 in Shanghai.
@job("ledger-verify", every=timedelta(days=1), offset=timedelta(hours=19), timeout=timedelta(hours=2))
def ledger_verify(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Recompute every balance from the journal; a mismatch is an alert for the system admin."""
    report = ledger.verify(session)
    session.rollback()
    if not report.ok:
        raise JobAlert("\n".join(report.lines()))
    return {"ledgers_checked": len(report.summary)}


def prune_runs(
    session: Session,
    *,
    now: datetime,
    keep: timedelta,
    batch_size: int = DEFAULT_BATCH_SIZE,
    end_batch: EndBatch = None,
) -> int:
    """Delete successful runs started longer than `keep` ago (`deliver-outbox` alone adds 1,440 a
    day); failures and alerts stay, for the jobs page's list of failures."""
    where = (JobRun.started_at < now - keep) & (JobRun.status == "ok")
    return delete_in_batches(session, JobRun, where, batch_size=batch_size, end_batch=end_batch)
