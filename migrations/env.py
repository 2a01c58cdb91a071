"""Alembic environment. Used by `flask --app portal db ...` (Flask-Migrate) and by the tests, which
pass a connection in `config.attributes["connection"]` so no Flask app is needed."""

import logging
from logging.config import fileConfig

from alembic import context

import portal.models  # noqa: F401  (every table on Base.metadata)
from portal.db import Base

config = context.config
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_metadata = Base.metadata


def _render_item(type_, obj, autogen_context):
    """Write project column types as plain SQLAlchemy types, so migrations never import the app."""
    from portal.db import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from flask import current_app

    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
