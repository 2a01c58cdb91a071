from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

#: admin: a customer's fleet admin; driver: sees own cards; staff: support in one region;
#: sysadmin: sets up regions, stations and staff.
ROLES = ("admin", "driver", "staff", "sysadmin")


class User(Base):
    """A person who signs in. Scope columns say what they may see: customer, driver or region."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'driver', 'staff', 'sysadmin')", name="role"),
        # Customer users need a customer; staff need a region; drivers need a driver record.
        CheckConstraint("role NOT IN ('admin', 'driver') OR customer_id IS NOT NULL", name="customer_scope"),
        CheckConstraint("role <> 'staff' OR region_id IS NOT NULL", name="region_scope"),
        CheckConstraint("role <> 'driver' OR driver_id IS NOT NULL", name="driver_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(default=True)
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A server-side sign-in session. The cookie holds a random token; only its SHA-256 is stored,
    so a leaked table cannot be replayed, and revoking the row kills the cookie."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_revoked", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the password was last confirmed in this session (for money moves and loss cancels).
    reauthenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")
