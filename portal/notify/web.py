"""The web side of notify (Flask glue): pick backends from config and deliver queued messages after the view has committed.

Config: MAIL_BACKEND ("console" or "smtp", with SMTP_HOST, SMTP_PORT, MAIL_SENDER, SMTP_STARTTLS) and
SMS_BACKEND ("console"). NOTIFY_IN_BACKGROUND (default: on outside testing) delivers in a thread so
the response does not wait for the mail server, and takes the same time whether or not a message
was sent (account recovery must not reveal which accounts exist).

PUBLIC_URL is where every link in a message points (`public_link`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from flask import Flask, current_app

from portal.extensions import clock, db
from portal.notify import services
from portal.notify.backends import Backend, ConsoleBackend, SmtpMailer


def public_link(endpoint: str, **values) -> str:
    """An absolute link to a portal page, for a mail or SMS: PUBLIC_URL and the page's path. Never built
    from the request's Host or X-Forwarded-Host, which a client can forge to send users elsewhere."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        raise RuntimeError("PUBLIC_URL is not set: links in mail and SMS need it")
    path = current_app.url_map.bind("portal.invalid", script_name="/").build(endpoint, values)
    return base.rstrip("/") + path


def backends(app: Flask) -> dict[str, Backend]:
    config = app.config
    if config.get("MAIL_BACKEND") == "smtp":
        mail: Backend = SmtpMailer(
            config.get("SMTP_HOST", "127.0.0.1"),
            int(config.get("SMTP_PORT", 25)),
            config.get("MAIL_SENDER", "portal@localhost"),
            starttls=bool(config.get("SMTP_STARTTLS", False)),
        )
    else:
        mail = ConsoleBackend("email")
    return {"email": mail, "sms": ConsoleBackend("sms")}


def _deliver(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        services.deliver(db.session, ids, backends(app), now=clock().now())
        db.session.commit()


def dispatch(ids: Iterable[int]) -> None:
    """Deliver these (already committed) outbox messages, now or in a background thread."""
    ids = list(ids)
    if not ids:
        return
    app = current_app._get_current_object()
    if app.config.get("NOTIFY_IN_BACKGROUND", not app.testing):
        threading.Thread(target=_deliver, args=(app, ids), daemon=True).start()
    else:
        _deliver(app, ids)
