"""Reading balances: a customer's accounts, one card's, many cards' at once (one statement).

Every page, export and service that shows money or points reads it here, from the accounts' stored
totals (the transfer services keep them in step with the journal; `ledger verify` checks them).
Accounts are found by the owner keys the ledger already holds (customer id, card id). These reads
take no lock: a write path that decides on a balance locks the accounts (`lock_accounts`) and reads
them under the lock instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.ledger.accounts import id_in
from portal.ledger.models import Account

_posted = Account.credits_posted - Account.debits_posted
_FIGURES = {"posted": _posted, "held": Account.debits_pending, "available": _posted - Account.debits_pending}


@dataclass(frozen=True)
class Balance:
    """One account's figures, in fen (money) or points."""

    #: Credits minus debits, posted.
    posted: int = 0
    #: What pending debits hold of it (a load on its way to the chip holds the reserve).
    held: int = 0
    #: False while the account is not open yet (the figures are then zero).
    opened: bool = False

    @property
    def available(self) -> int:
        """What can still be debited: the posted balance less what is held."""
        return self.posted - self.held


@dataclass(frozen=True)
class CustomerBalances:
    """A customer's own accounts (a card's accounts are in CardBalances)."""

    unit: Balance = field(default_factory=Balance)
    #: The customer-level points account.
    points: Balance = field(default_factory=Balance)


@dataclass(frozen=True)
class CardBalances:
    """A card's reserve (备用金), host-known chip purse and points."""

    reserve: Balance = field(default_factory=Balance)
    purse: Balance = field(default_factory=Balance)
    points: Balance = field(default_factory=Balance)


def customer_balances(session: Session, customer_id: int) -> CustomerBalances:
    """The customer's unit and points accounts, in one statement (zeros for those not open)."""
    rows = session.execute(
        select(Account.kind, _posted, Account.debits_pending).where(
            Account.customer_id == customer_id, Account.card_id.is_(None)
        )
    )
    return CustomerBalances(**{kind: Balance(int(posted), int(held), True) for kind, posted, held in rows})


def card_balances(session: Session, card_id: int) -> CardBalances:
    """One card's accounts, in one statement."""
    return many_card_balances(session, [card_id])[card_id]


def many_card_balances(session: Session, card_ids: Iterable[int]) -> dict[int, CardBalances]:
    """{card id: CardBalances} for every given card, in one statement whatever their number (none
    for no cards); a card without accounts yet gets zeros."""
    ids = sorted(set(card_ids))
    if not ids:
        return {}
    found: dict[int, dict[str, Balance]] = {card_id: {} for card_id in ids}
    rows = session.execute(
        select(Account.card_id, Account.kind, _posted, Account.debits_pending).where(
            id_in(session, Account.card_id, ids)
        )
    )
    for card_id, kind, posted, held in rows:
        found[card_id][kind] = Balance(int(posted), int(held), True)
    return {card_id: CardBalances(**kinds) for card_id, kinds in found.items()}


def posted_total(session: Session, account_ids: Iterable[int]) -> int:
    """The sum of the accounts' posted balances (e.g. the points of every account a user may see)."""
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    return int(session.scalar(select(func.coalesce(func.sum(_posted), 0)).where(id_in(session, Account.id, ids))) or 0)


def card_balance_column(kind: str, figure: str = "posted"):
    """SQL for one figure ("posted", "held" or "available") of a card's `kind` account, for a
    statement that joins `Account` on `Account.card_id` and groups by card: a page that filters or
    sorts cards by a balance in the same statement. 0 when the card has no such account."""
    return func.coalesce(func.sum(case((Account.kind == kind, _FIGURES[figure]), else_=0)), 0)
