"""The application factory."""

from __future__ import annotations

import importlib
import os

from flask import Flask

from config import load_config
from portal import files
from portal.extensions import babel, csrf, db, limiter, login_manager, migrate


def create_app(config_name: str | None = None, **overrides) -> Flask:
    """Build the app for `config_name` (default $PORTAL_ENV or development); `overrides` win."""
    app = Flask(
        "portal",
        instance_path=str(files.INSTANCE) if files.INSTANCE else None,
        template_folder=str(files.TEMPLATES),
        static_folder=str(files.STATIC),
    )
    app.config.update(load_config(config_name))
    app.config.update(overrides)
    if not app.config.get("DATABASE_URL"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "portal.db")

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    from portal.ops.web import register_ops

    register_ops(app)
    from portal.web.errors import register_error_handlers
    from portal.web.security import register_security
    from portal.web.shell import register_shell

    register_error_handlers(app)
    register_security(app)
    register_shell(app)
    return app


def register_extensions(app: Flask) -> None:
    from portal.web.i18n import select_locale, select_timezone

    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        # X-Forwarded-Host is never believed: the proxy sets Host, and links in messages use PUBLIC_URL.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0)
    db.init_app(app)
    migrate.init_app(app, db.jobs, directory=str(files.MIGRATIONS), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=str(files.TRANSLATIONS),
    )
    limiter.init_app(app)
    login_manager.init_app(app)
    from portal.notify import mail

    mail.init_app(app)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale


#: Every module that adds views. A blueprint split over several modules is created in its area's
#: web.py (auth, cards, queries) and each module here adds its routes to it.
VIEW_MODULES = (
    "portal.auth.views",
    "portal.auth.views_password",
    "portal.auth.views_register",
    "portal.cards.views",
    "portal.cards.control_views",
    "portal.cards.loss_views",
    "portal.queries.views",
    "portal.queries.ledger_views",
    "portal.admin.jobs_views",
)


def register_blueprints(app: Flask) -> None:
    for module in VIEW_MODULES:
        importlib.import_module(module)
    from portal.admin.views import bp as admin_bp
    from portal.alerts.views import bp as alerts_bp
    from portal.auth.web import bp as auth_bp
    from portal.cards.web import bp as cards_bp
    from portal.chips.views import bp as chips_bp
    from portal.drivers.views import bp as drivers_bp
    from portal.funds.views import bp as funds_bp
    from portal.home.views import bp as home_bp
    from portal.profile.views import bp as profile_bp
    from portal.queries.web import bp as queries_bp
    from portal.rewards.views import bp as rewards_bp
    from portal.stations.api import bp as terminal_api_bp
    from portal.statistics.views import bp as statistics_bp
    from portal.support.views import bp as support_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(cards_bp)
    app.register_blueprint(drivers_bp)
    app.register_blueprint(profile_bp)
    app.register_blueprint(funds_bp)
    app.register_blueprint(chips_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(support_bp)
    app.register_blueprint(queries_bp)
    app.register_blueprint(statistics_bp)
    app.register_blueprint(terminal_api_bp)
    app.register_blueprint(alerts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(rewards_bp)
    from portal.api.registration import register as register_api
    from portal.apikeys.views import bp as apikeys_bp

    app.register_blueprint(apikeys_bp)

    register_api(app)


def register_commands(app: Flask) -> None:
    from portal.cli import register

    register(app)
