from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from portal.alerts.services import open_alerts
from portal.auth.permissions import OWN_ACCOUNT
from portal.clock import business_date
from portal.extensions import clock, db
from portal.home import queries
from portal.queries.home import home_summary
from portal.queries.scope import customer_scope, driver_scope
from portal.web.access import guard, requires
from portal.web.shell import register_shell

bp = guard(Blueprint("home", __name__))

# Every page extends base.html, which needs the shell (menu, language switch, filters). create_app
# may also call register_shell; it installs itself only once.
bp.record_once(lambda state: register_shell(state.app))


@bp.get("/")
@requires(OWN_ACCOUNT)
def index():
    """The signed-in user's home page: what their role looks after, with today's real figures."""
    user = current_user.user
    today = business_date(clock().now())
    if user.role == "admin":
        return render_template(
            "home/admin.html",
            summary=queries.customer_summary(db.session, user.customer_id),
            zone=home_summary(db.session, customer_scope(user.customer_id), today=today),
            alerts=open_alerts(db.session, user.customer_id, 5),
        )
    if user.role == "driver":
        scope = driver_scope(db.session, user.customer_id, user.driver_id)
        return render_template(
            "home/driver.html",
            summary=queries.driver_summary(db.session, user.driver_id),
            zone=home_summary(db.session, scope, today=today),
        )
    if user.role == "staff":
        return render_template("home/staff.html", summary=queries.region_summary(db.session, user.region_id))
    if user.role == "sysadmin":
        return render_template("home/sysadmin.html", summary=queries.system_summary(db.session))
    abort(403)
