"""Ledger tables: accounts (the only mutable money columns) and transfers (the append-only journal).

TigerBeetle-style: every transfer has exactly one debit and one credit account in the same ledger,
so every transfer balances by construction. Customer accounts are credit-normal liabilities:
their balance is credits minus debits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

#: Ledger codes. A transfer never crosses ledgers.
MONEY = "CNY"  # integer fen
POINTS = "PTS"  # integer points
LEDGERS = (MONEY, POINTS)

#: Account kinds owned by a customer (no overdraft) and the ledger each lives in.
CUSTOMER_KINDS = {"unit": MONEY, "reserve": MONEY, "purse": MONEY, "points": POINTS}
#: Accounts that belong to a card (card_id set).
CARD_KINDS = ("reserve", "purse", "points")
#: System accounts: no owner, one per kind, may go negative (they mirror the outside world).
#: Loads in flight need no system account: a pending load is a hold on the reserve and the purse.
SYSTEM_KINDS = {
    "deposits_clearing": MONEY,
    "station_sales": MONEY,
    "points_issued": POINTS,
    "points_redeemed": POINTS,
    "points_expired": POINTS,
}
ACCOUNT_KINDS = tuple(CUSTOMER_KINDS) + tuple(SYSTEM_KINDS)
#: System kinds that are also kept per station (station_id set): a purchase posts to its station's
#: accounts, so purchases at different stations share no account row (no national hot row). The
#: station-less account of these kinds holds what was posted before migration 0018 (and points
#: issued outside purchases).
STATION_KINDS = ("station_sales", "points_issued")

#: What a journal row does: posted moves money at once; pending holds it; post_pending and
#: void_pending resolve a pending row (they reference it and never change it).
TRANSFER_KINDS = ("posted", "pending", "post_pending", "void_pending")
TRANSFER_CODES = (
    "deposit",
    "allocation",
    "collection",
    "load",
    "purchase",
    "refund",
    "points_earn",
    "points_redeem",
    "points_expire",
    "replacement",
    "reversal",
)
#: Caller-supplied transfer ids are at most this long; the column leaves room for derived ids
#: such as "expire:<pending id>".
MAX_ID_LENGTH = 64


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Account(Base):
    """One account in one ledger. The four totals are kept in step with the journal by the ledger
    services only; `ledger verify` recomputes them from the transfers."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(_in("ledger", LEDGERS), name="ledger"),
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name="totals_non_negative",
        ),
        # The no-overdraft rule counts money held by pending debits as already spent.
        CheckConstraint("NOT no_overdraft OR debits_posted + debits_pending <= credits_posted", name="no_overdraft"),
        CheckConstraint(
            f"({_in('kind', SYSTEM_KINDS)}) = (customer_id IS NULL)",
            name="owner",
        ),
        CheckConstraint("kind IN ('reserve', 'purse', 'points') OR card_id IS NULL", name="card_kind"),
        CheckConstraint("kind NOT IN ('reserve', 'purse') OR card_id IS NOT NULL", name="card_set"),
        CheckConstraint(f"station_id IS NULL OR {_in('kind', STATION_KINDS)}", name="station_kind"),
        # One account per (kind, card); one per (kind, customer) for customer-level accounts; one
        # per kind for system accounts, and one per (station, kind) for a station's system accounts.
        # Partial indexes because NULLs never collide in a UNIQUE.
        Index(
            "uq_ledger_accounts_card_kind",
            "card_id",
            "kind",
            unique=True,
            sqlite_where=text("card_id IS NOT NULL"),
            postgresql_where=text("card_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_accounts_customer_kind",
            "customer_id",
            "kind",
            unique=True,
            sqlite_where=text("card_id IS NULL AND customer_id IS NOT NULL"),
            postgresql_where=text("card_id IS NULL AND customer_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_accounts_system_kind",
            "kind",
            unique=True,
            sqlite_where=text("customer_id IS NULL AND station_id IS NULL"),
            postgresql_where=text("customer_id IS NULL AND station_id IS NULL"),
        ),
        Index(
            "uq_ledger_accounts_station_kind",
            "station_id",
            "kind",
            unique=True,
            sqlite_where=text("station_id IS NOT NULL"),
            postgresql_where=text("station_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: MONEY ("CNY", fen) or POINTS ("PTS").
    ledger: Mapped[str] = mapped_column(String(3))
    #: unit / reserve / purse / points, or a system kind such as deposits_clearing.
    kind: Mapped[str] = mapped_column(String(24))
    #: Owner; NULL exactly for system accounts. (Its foreign key to customers is attached by
    #: portal.customers.models: the ledger knows no product table.)
    customer_id: Mapped[int | None]
    #: The card of a reserve, purse or per-card points account (foreign key: portal.cards.models).
    card_id: Mapped[int | None]
    #: The station of a station's system account (STATION_KINDS; foreign key: portal.reference.models).
    station_id: Mapped[int | None]
    #: Debits (posted plus pending) may never exceed posted credits. Set on customer accounts.
    no_overdraft: Mapped[bool] = mapped_column(default=False)
    #: A frozen account cannot be debited (a lost card's accounts); credits still land.
    frozen: Mapped[bool] = mapped_column(default=False)
    #: A closed account can be neither debited nor credited; it was empty when closed.
    closed: Mapped[bool] = mapped_column(default=False)
    #: Sums of the journal's amounts on each side, posted and still pending.
    debits_posted: Mapped[int] = mapped_column(default=0)
    credits_posted: Mapped[int] = mapped_column(default=0)
    debits_pending: Mapped[int] = mapped_column(default=0)
    credits_pending: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        owner = f"card {self.card_id}" if self.card_id else f"customer {self.customer_id}"
        if not self.customer_id:
            owner = f"station {self.station_id}" if self.station_id else "system"
        return f"<Account {self.id} {self.kind} {self.ledger} {owner}>"


class Transfer(Base):
    """One immutable journal row: `amount` moves from the debit account to the credit account.

    Nothing ever updates or deletes a row (PostgreSQL triggers refuse it): a mistake is undone by a
    reversal, a pending hold is resolved by a post_pending or void_pending row that references it.
    """

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        CheckConstraint(_in("ledger", LEDGERS), name="ledger"),
        CheckConstraint(_in("kind", TRANSFER_KINDS), name="kind"),
        CheckConstraint(_in("code", TRANSFER_CODES), name="code"),
        CheckConstraint(
            "(kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL)",
            name="resolution_refers_to_pending",
        ),
        CheckConstraint("(kind = 'pending') = (expires_at IS NOT NULL)", name="pending_expires"),
        CheckConstraint("(code = 'reversal') = (reversal_of IS NOT NULL)", name="reversal_refers"),
        # Statements: an account's transfers in time order, on either side.
        Index("ix_ledger_transfers_debit_at", "debit_account_id", "created_at"),
        Index("ix_ledger_transfers_credit_at", "credit_account_id", "created_at"),
        # Exactly-once resolution and at-most-once reversal. Partial: most rows have neither, and
        # an index that skips them costs nothing on the hot insert path.
        Index(
            "uq_ledger_transfers_pending_id",
            "pending_id",
            unique=True,
            sqlite_where=text("pending_id IS NOT NULL"),
            postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_transfers_reversal_of",
            "reversal_of",
            unique=True,
            sqlite_where=text("reversal_of IS NOT NULL"),
            postgresql_where=text("reversal_of IS NOT NULL"),
        ),
        # expire_pending's scan; only pending rows have an expiry.
        Index(
            "ix_ledger_transfers_expires_at",
            "expires_at",
            sqlite_where=text("expires_at IS NOT NULL"),
            postgresql_where=text("expires_at IS NOT NULL"),
        ),
    )

    #: Caller-supplied; doubles as the idempotency key.
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    ledger: Mapped[str] = mapped_column(String(3))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    #: Fen or points; for a void_pending, the amount released.
    amount: Mapped[int]
    #: What the money movement is for (deposit, allocation, load, reversal, ...).
    code: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="posted")
    #: The pending transfer a post_pending or void_pending resolves; unique: exactly once.
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"))
    #: The transfer a reversal undoes; unique: at most one reversal each.
    reversal_of: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"))
    #: Shared by the transfers of one transfer_batch call (when the caller names the batch).
    batch_id: Mapped[str | None] = mapped_column(String(80))
    #: When a pending hold lapses (expire_pending voids it then).
    expires_at: Mapped[datetime | None]
    #: Who acted (foreign key to users attached by portal.auth.models).
    actor_id: Mapped[int | None]
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (
            f"<Transfer {self.id} {self.kind} {self.code} {self.amount} {self.ledger} "
            f"{self.debit_account_id}->{self.credit_account_id}>"
        )
