"""A customer's API keys, and the answers recorded for idempotent API requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class ApiKey(Base):
    """A key of the customer API. Its token is `fcp_<prefix>_<secret>`: the prefix finds the row, the
    secret is checked against `secret_hash`; the token itself is shown once and never stored."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_customer_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: What the admin calls it ("ERP", "telematics"); shown in the activity log of every action.
    name: Mapped[str] = mapped_column(String(64))
    #: The public lookup part of the token (not secret: shown in the key list and the logs).
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    #: SHA-256 hex of the secret part (256 random bits: a fast hash is enough, as for terminals).
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Scopes granted (portal.apikeys.services.SCOPES), sorted.
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    #: None: never expires.
    expires_at: Mapped[datetime | None]
    #: CIDR networks the key may be used from; empty: any address.
    allowed_networks: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The last authenticated use, recorded at most once a minute.
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str] = mapped_column(String(45), default="")
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ApiIdempotency(Base):
    """The answer given to a money-moving API request, by the customer's `Idempotency-Key`: the same
    key and body get the same answer again; the same key with another body is refused."""

    __tablename__ = "api_idempotency"
    __table_args__ = (
        UniqueConstraint("customer_id", "key", name="uq_api_idempotency_customer_key"),
        CheckConstraint("status BETWEEN 100 AND 599", name="status"),
        Index("ix_api_idempotency_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: The client's Idempotency-Key header (1..64 printable ASCII characters).
    key: Mapped[str] = mapped_column(String(64))
    #: "POST /api/v1/..." the key was first used for.
    request: Mapped[str] = mapped_column(String(255))
    #: SHA-256 hex of the request's canonical JSON body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    #: The response body as sent (JSON), and its content type.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(64))
    #: Headers worth replaying (Location), as a dict.
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
