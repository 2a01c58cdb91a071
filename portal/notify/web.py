"""The web side of notify (Flask glue): pick backends from config and deliver queued messages after the view has committed.

Config: MAIL_BACKEND ("console" or "smtp": Flask-Mailman with SMTP_HOST, SMTP_PORT, SMTP_USERNAME,
SMTP_PASSWORD, SMTP_STARTTLS, SMTP_SSL, SMTP_TIMEOUT, SMTP_CA_FILE, MAIL_SENDER) and SMS_BACKEND
("console" or "tencent": Tencent Cloud SMS with the SMS_* settings). NOTIFY_IN_BACKGROUND (default: on outside testing) delivers in a thread so
the response does not wait for the mail server, and takes the same time whether or not a message
was sent (account recovery must not reveal which accounts exist).

PUBLIC_URL is where every link in a message points (`public_link`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from flask import Flask, current_app

from config import sms_templates
from portal.extensions import clock, db
from portal.notify import mail, services, sms
from portal.notify.backends import Backend, ConsoleBackend, Outgoing, console_outbox


def public_link(endpoint: str, **values) -> str:
    """An absolute link to a portal page, for a mail or SMS: PUBLIC_URL and the page's path. Never built
    from the request's Host or X-Forwarded-Host, which a client can forge to send users elsewhere."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        raise RuntimeError("PUBLIC_URL is not set: links in mail and SMS need it")
    path = current_app.url_map.bind("portal.invalid", script_name="/").build(endpoint, values)
    return base.rstrip("/") + path


def _console_kept(app: Flask):
    return app.extensions.setdefault("portal.notify.console", console_outbox())


def console_messages(app: Flask, recipient: str | None = None) -> list[Outgoing]:
    """What the console backends printed in this process (newest last), to `recipient` if given: the
    outbox table keeps no body once delivered, so development and tests read codes and links here."""
    return [m for m in _console_kept(app) if recipient is None or m.recipient == recipient]


def backends(app: Flask) -> dict[str, Backend]:
    """The backends the settings name, built from the current settings."""
    config = app.config
    kept = _console_kept(app)
    mailer: Backend = (
        mail.Mailer(app, config) if config.get("MAIL_BACKEND") == "smtp" else ConsoleBackend("email", kept=kept)
    )
    texts: Backend = (
        sms.TencentSms(tencent_settings(config))
        if config.get("SMS_BACKEND") == "tencent"
        else ConsoleBackend("sms", kept=kept)
    )
    return {"email": mailer, "sms": texts}


def tencent_settings(config) -> sms.TencentSettings:
    return sms.TencentSettings(
        secret_id=config.get("SMS_SECRET_ID") or "",
        secret_key=config.get("SMS_SECRET_KEY") or "",
        app_id=config.get("SMS_APP_ID") or "",
        sign_name=config.get("SMS_SIGN_NAME") or "",
        templates=sms_templates(config.get("SMS_TEMPLATES")),
        region=config.get("SMS_REGION") or sms.DEFAULT_REGION,
        endpoint=config.get("SMS_ENDPOINT") or sms.DEFAULT_ENDPOINT,
        timeout=float(config.get("SMS_TIMEOUT") or sms.DEFAULT_TIMEOUT),
    )


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
