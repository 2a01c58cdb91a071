from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, add_foreign_key
from portal.ledger.models import Transfer

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
        # One account per name in any case; sign-in and `find_user` look names up through it
        # (`text`: a plain string here would index the constant 'username').
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
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
    #: The user's customer, copied in on insert (None for staff and system admins, who have none).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the password was last confirmed in this session (for money moves and loss cancels).
    reauthenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")


class PasswordHistory(Base):
    """A user's earlier password hashes, newest kept, so a new password cannot repeat a recent one."""

    __tablename__ = "password_history"
    __table_args__ = (Index("ix_password_history_user_set", "user_id", "set_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The user's customer, copied in on insert (None for staff and system admins, who have none).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    password_hash: Mapped[str] = mapped_column(String(128))
    #: When this (now replaced) password had been set.
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


#: register: proves control of the customer's phone/email before creating its admin (6 digits, 10 min);
#: recover: a password-reset link for one user (a 256-bit token, 30 min).
CODE_PURPOSES = ("register", "recover")
CODE_CHANNELS = ("sms", "email")


class OneTimeCode(Base):
    """A single-use code or link token sent by SMS or mail. Only a hash of it is stored."""

    __tablename__ = "one_time_codes"
    __table_args__ = (
        CheckConstraint("purpose IN ('register', 'recover')", name="purpose"),
        CheckConstraint("channel IN ('sms', 'email')", name="channel"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("purpose <> 'register' OR customer_id IS NOT NULL", name="register_customer"),
        CheckConstraint("purpose <> 'recover' OR user_id IS NOT NULL", name="recover_user"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        #: Serves the send limits: codes and links sent to one phone or address lately.
        Index("ix_one_time_codes_destination_key_created", "destination_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    #: Link tokens: SHA-256 hex (looked up by it). Numeric codes: "salt$sha256(salt:code)".
    code_hash: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    #: The phone number or mail address the code went to.
    destination: Mapped[str] = mapped_column(String(254))
    #: The destination as the send limits count it (codes.contact_key): digits of a phone number,
    #: a mail address in one case, so that "139-0000-0001" and "13900000001" are one phone.
    destination_key: Mapped[str] = mapped_column(String(254), server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: Wrong guesses so far; the code dies at the policy's maximum.
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class SignInThrottle(Base):
    """Failed sign-ins per client address ("ip:...") or per typed user name / card number ("name:...").

    Counting by the typed name, whether or not such an account exists, makes unknown names behave
    exactly like real ones (captcha after 3, "locked" after 5), so neither reveals which accounts exist.
    """

    __tablename__ = "sign_in_throttles"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures_not_negative"),)

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Only for names without an account (real accounts use users.locked_until).
    locked_until: Mapped[datetime | None]


class CaptchaChallenge(Base):
    """An image captcha shown after repeated failures. Server-side: the cookie holds only `token`."""

    __tablename__ = "captcha_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    #: The characters drawn in the image (short-lived, single use; never sent to the browser as text).
    answer: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# The outbox belongs to notify; imported here so every importer of the auth models sees its table.
import portal.notify.models  # noqa: E402, F401

# The ledger's owner columns point here; the ledger itself knows no product table.
add_foreign_key(Transfer, "actor_id", "users.id")
