"""The system admin's jobs page: each job's last and next run, failures and alerts, undelivered mail."""

from __future__ import annotations

import json

from flask import current_app, render_template, request
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from portal.admin.views import bp
from portal.extensions import clock, db
from portal.jobs import status
from portal.notify.services import failures, given_up
from portal.web.access import requires

#: What each job does, in the reader's language (the job's docstring is the operators' English).
JOB_DESCRIPTIONS = {
    "expire-loads": _l("Void chip loads whose hold has expired: the ledger hold and the load request."),
    "deliver-outbox": _l("Send mail and SMS not sent at once, retrying with exponential backoff."),
    "deliver-webhooks": _l(
        "Send due webhook deliveries, retrying with backoff; disable endpoints that fail for a day."
    ),
    "prune": _l("Delete ended sessions, idle throttles, dead codes and old messages; clear delivered bodies."),
    "points-expire": _l(
        "Expire old points, committing every batch; accounts the ledger refuses are skipped and listed."
    ),
    "ledger-verify": _l("Recompute every balance from the journal; a mismatch is an alert for the system admin."),
}

#: A label for each count a job returns (portal.jobs.catalogue); tests/web/test_jobs_page.py checks
#: every job's counts have one.
COUNT_LABELS = {
    "loads_expired": _l("Load requests expired"),
    "messages_due": _l("Messages due"),
    "messages_sent": _l("Messages sent"),
    "messages_given_up": _l("Messages given up"),
    "sessions": _l("Sessions deleted"),
    "throttles": _l("Sign-in throttles deleted"),
    "codes": _l("One-time codes deleted"),
    "captchas": _l("Captchas deleted"),
    "bodies_cleared": _l("Message bodies cleared"),
    "messages": _l("Messages deleted"),
    "job_runs": _l("Job runs deleted"),
    "api_idempotency": _l("API idempotency records deleted"),
    "points_expired": _l("Points expired"),
    "accounts": _l("Accounts"),
    "skipped_accounts": _l("Accounts skipped (frozen)"),
    "ledgers_checked": _l("Ledgers checked"),
    "webhooks_due": _l("Webhook deliveries due"),
    "webhooks_delivered": _l("Webhook deliveries delivered"),
    "webhooks_failed": _l("Webhook deliveries failed for good"),
    "webhooks_postponed": _l("Webhook deliveries postponed (their endpoint did not answer)"),
    "webhook_deliveries": _l("Webhook deliveries deleted"),
}


def run_counts(detail: str) -> list[tuple[str, str]] | None:
    """A successful run's counts as (label, figure) in the reader's language; None for a detail that is
    not counts (an error, an alert: shown as written, for the operators)."""
    try:
        counts = json.loads(detail)
    except ValueError:
        return None
    if not isinstance(counts, dict) or not set(counts) <= set(COUNT_LABELS):
        return None
    return [(str(COUNT_LABELS[key]), _figure(value)) for key, value in counts.items()]


def _figure(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return format_decimal(value)


@bp.get("/jobs")
@requires("jobs.monitor")
def jobs():
    """Scheduled jobs: last run, next run, failures (paged, newest first)."""
    before = request.args.get("before", type=int)
    outbox_before = request.args.get("outbox_before", type=int)  # the undelivered messages' own pages
    page = status.failures(db.session, now=clock().now(), before=before, limit=current_app.config.get("PAGE_SIZE", 50))
    return render_template(
        "admin/jobs.html",
        jobs=status.overview(db.session, clock().now()),
        page=page,
        before=before,
        undelivered=given_up(db.session),
        outbox=failures(db.session, before=outbox_before, limit=current_app.config.get("PAGE_SIZE", 50)),
        outbox_before=outbox_before,
        descriptions=JOB_DESCRIPTIONS,
        run_counts=run_counts,
    )
