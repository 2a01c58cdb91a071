"""Running the migrations from code (tests, `make run`'s first start). `flask db upgrade` is the CLI."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from portal.files import MIGRATIONS


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema on `connection` to `revision`, inside the caller's transaction."""
    command.upgrade(alembic_config(connection), revision)
