"""The scheduled jobs. Each is registered once (portal.jobs.registry) and calls one area's services;
`config` is the app's settings as plain data (the runner passes it), so the jobs stay free of Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from portal import ledger
from portal.apikeys.services import prune_idempotency
from portal.auth.housekeeping import Retention, prune_sign_in_records
from portal.chips.loads import expire_overdue_loads
from portal.jobs.models import JobRun
from portal.jobs.registry import Counts, JobAlert, job
from portal.notify import services as outbox
from portal.points.services import DEFAULT_EXPIRY_DAYS, expire_points

log = logging.getLogger(__name__)


@job("expire-loads", every=timedelta(minutes=10))
def expire_loads(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Void chip loads whose hold has expired: the ledger hold and the load request, committing every
    100; a load that fails is left for the next run and fails this one, after the others expired."""
    result = expire_overdue_loads(session, now=now, end_batch=session.commit)
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


@job("prune", every=timedelta(hours=1), offset=timedelta(minutes=5))
def prune(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Delete ended sessions, idle throttles, dead codes, old messages and old API idempotency records;
    clear delivered bodies."""
    keep = Retention(session_idle=config["SESSION_IDLE_TIMEOUT"], session_absolute=config["SESSION_ABSOLUTE_TIMEOUT"])
    counts = prune_sign_in_records(session, now=now, keep=keep)
    counts["bodies_cleared"] = outbox.clear_delivered_bodies(
        session, now=now, after=config.get("OUTBOX_CLEAR_BODY_AFTER", timedelta(minutes=10))
    )
    counts["messages"] = outbox.prune(session, now=now, keep=config.get("OUTBOX_KEEP", timedelta(days=90)))
    counts["job_runs"] = prune_runs(session, now=now, keep=config.get("JOB_RUNS_KEEP", timedelta(days=30)))
    counts["api_idempotency"] = prune_idempotency(session, now=now)
    return counts


# 19:30 UTC is 03:30 in Shanghai: after the business day's traffic.
@job("points-expire", every=timedelta(days=1), offset=timedelta(hours=19, minutes=30), timeout=timedelta(hours=3))
def points_expire(session: Session, now: datetime, config: Mapping[str, Any]) -> Counts:
    """Expire old points, committing every batch; accounts the ledger refuses are skipped and listed."""
    days = config.get("POINTS_EXPIRY_DAYS", DEFAULT_EXPIRY_DAYS)
    result = expire_points(session, now=now, days=days, end_batch=session.commit)
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


def prune_runs(session: Session, *, now: datetime, keep: timedelta) -> int:
    """Delete successful runs started longer than `keep` ago (`deliver-outbox` alone adds 1,440 a
    day); failures and alerts stay, for the jobs page's list of failures."""
    stmt = delete(JobRun).where(JobRun.started_at < now - keep, JobRun.status == "ok")
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount
