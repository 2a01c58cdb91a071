"""The station side's own model: a station's payment terminals and their API keys (the purchases they
send are `portal.purchases.models`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class Terminal(Base):
    """A station's payment terminal. It authenticates with an API key; only the key's hash is kept."""

    __tablename__ = "terminals"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: First characters of the key, shown to admins to tell keys apart; not secret.
    key_prefix: Mapped[str] = mapped_column(String(12))
    #: SHA-256 hex of the full API key.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
