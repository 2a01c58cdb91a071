"""The page shell around every view: header (who is signed in, for which customer/region), the
language switch, the menu, and the template helpers. `register_shell(app)` installs it all."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.customers.models import Customer
from portal.extensions import db
from portal.reference.models import Region
from portal.web.access import PUBLIC, guard, requires
from portal.web.filters import register_filters
from portal.web.i18n import language_code
from portal.web.memos import register_memo_text
from portal.web.menu import menu_for
from portal.web.redirects import safe_next

bp = guard(Blueprint("shell", __name__))

#: How long the language choice is remembered.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600

#: Each language's name written in itself, as a language switch shows it.
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}

ROLE_LABELS = {
    "admin": _l("Fleet admin"),
    "driver": _l("Driver"),
    "staff": _l("Support staff"),
    "sysadmin": _l("System admin"),
}


@bp.post("/language")
@requires(PUBLIC)
def set_language():
    """Remember the chosen UI language in the `lang` cookie and go back to the page it was chosen on."""
    response = redirect(safe_next(request.form.get("next"), url_for("home.index")))
    wanted = request.form.get("lang", "")
    if wanted in current_app.config["LANGUAGES"]:
        response.set_cookie(
            "lang",
            wanted,
            max_age=LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            httponly=True,
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        )
    return response


@dataclass(frozen=True)
class Identity:
    """What the header says about the signed-in user."""

    name: str
    role: str
    #: The customer they act for (fleet admin, driver), if any.
    customer: str
    #: Their customer's region, or their own (support staff).
    region: str


def identity() -> Identity | None:
    if not current_user.is_authenticated:
        return None
    user = current_user.user
    locale = str(get_locale())
    customer = db.session.get(Customer, user.customer_id) if user.customer_id else None
    region_id = customer.region_id if customer else user.region_id
    region = db.session.get(Region, region_id) if region_id else None
    return Identity(
        name=user.display_name or user.username,
        role=str(ROLE_LABELS.get(user.role, user.role)),
        customer=customer.name if customer else "",
        region=region.name(locale) if region else "",
    )


def _shell_context() -> dict:
    current = language_code(get_locale())
    role = current_user.role if current_user.is_authenticated else None
    return {
        "menu": menu_for(role, current_app, request.endpoint) if role else [],
        "identity": identity(),
        "other_languages": [
            (code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"] if code != current
        ],
        "endpoint_exists": lambda endpoint: endpoint in current_app.view_functions,
    }


def register_shell(app: Flask) -> None:
    """Install the shell once (it may be reached both from create_app and from the home blueprint)."""
    if "portal.shell" in app.extensions:
        return
    app.extensions["portal.shell"] = True
    app.register_blueprint(bp)
    app.context_processor(_shell_context)
    register_filters(app)
    register_memo_text(app)
