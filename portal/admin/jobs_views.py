"""The system admin's jobs page: each job's last and next run, failures and alerts, undelivered mail."""

from __future__ import annotations

from flask import current_app, render_template, request
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
    "prune": _l("Delete ended sessions, idle throttles, dead codes and old messages; clear delivered bodies."),
    "points-expire": _l(
        "Expire old points, committing every batch; accounts the ledger refuses are skipped and listed."
    ),
    "ledger-verify": _l("Recompute every balance from the journal; a mismatch is an alert for the system admin."),
}


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
    )
