"""The ledger's rules as pure functions on plain values: no database, so unit tests cover each one.

The services lock the touched accounts, load them as `AccountState`, apply these rules to the
copies in order, and only then write the journal rows and the new totals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portal.ledger.errors import (
    AccountClosed,
    AccountFrozen,
    ForeignAccount,
    InsufficientFunds,
    InvalidAmount,
    InvalidTransfer,
    LedgerMismatch,
    SameAccount,
)
from portal.ledger.models import MAX_ID_LENGTH

#: Largest single amount: 100 billion yuan in fen (or points); far above any real movement, far
#: below 2**63 so that no total can overflow a BIGINT in practice.
MAX_AMOUNT = 10**13
MAX_MEMO_LENGTH = 200
_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}")

#: Which account kinds each code may move money between (debit kind, credit kind). Reversals are
#: checked against the transfer they undo instead.
FLOWS: dict[str, frozenset[tuple[str, str]]] = {
    "deposit": frozenset({("deposits_clearing", "unit")}),
    "allocation": frozenset({("unit", "reserve")}),
    "collection": frozenset({("reserve", "unit")}),
    "load": frozenset({("reserve", "purse")}),
    "purchase": frozenset({("purse", "station_sales")}),
    "refund": frozenset({("station_sales", "purse")}),
    "replacement": frozenset({("reserve", "reserve"), ("purse", "purse"), ("points", "points")}),
    "points_earn": frozenset({("points_issued", "points")}),
    "points_redeem": frozenset({("points", "points_redeemed")}),
    "points_expire": frozenset({("points", "points_expired")}),
}
#: Codes that may debit a frozen account: a replacement card takes over a lost (frozen) card's funds.
DEBITS_FROZEN = frozenset({"replacement"})


@dataclass(slots=True)
class AccountState:
    """An account's row as read under lock; the rules update copies of these in memory."""

    id: int
    ledger: str
    kind: str
    customer_id: int | None
    no_overdraft: bool
    frozen: bool
    closed: bool
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def totals(self) -> tuple[int, int, int, int]:
        return (self.debits_posted, self.credits_posted, self.debits_pending, self.credits_pending)

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


def check_id(transfer_id: object) -> str:
    if not isinstance(transfer_id, str) or not _ID.fullmatch(transfer_id):
        raise InvalidTransfer(
            f"transfer id must be 1 to {MAX_ID_LENGTH} printable ASCII characters without spaces, got {transfer_id!r}"
        )
    return transfer_id


def check_amount(amount: object) -> int:
    # bool is an int subclass: True must not move one fen.
    if type(amount) is not int:
        raise InvalidAmount(f"amount must be a whole number of fen or points, got {amount!r}")
    if amount <= 0:
        raise InvalidAmount(f"amount must be positive, got {amount}")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"amount {amount} is above the maximum {MAX_AMOUNT}")
    return amount


def check_memo(memo: object) -> str:
    if not isinstance(memo, str) or len(memo) > MAX_MEMO_LENGTH:
        raise InvalidTransfer(f"memo must be text of at most {MAX_MEMO_LENGTH} characters")
    return memo


def check_code(code: object) -> str:
    if code not in FLOWS:
        raise InvalidTransfer(f"unknown transfer code {code!r}; use one of {', '.join(FLOWS)}")
    return code  # type: ignore[return-value]


def check_request_shape(transfer_id, debit_account_id, credit_account_id, amount, code, memo) -> None:
    """Everything that can be checked without the database, in the order a person would fix it."""
    check_id(transfer_id)
    check_amount(amount)
    check_code(code)
    check_memo(memo)
    for account_id in (debit_account_id, credit_account_id):
        if type(account_id) is not int:
            raise InvalidTransfer(f"account ids must be integers, got {account_id!r}")
    if debit_account_id == credit_account_id:
        raise SameAccount(f"account {debit_account_id} cannot be both debited and credited")


def check_pair(debit: AccountState, credit: AccountState, code: str | None, customer_id: int | None = None) -> None:
    """Ledger, flow and ownership rules for moving money from `debit` to `credit`.

    `code` None skips the flow check (reversals mirror a transfer that passed it). `customer_id`
    is the acting customer: their own accounts and system accounts only.
    """
    if debit.ledger != credit.ledger:
        raise LedgerMismatch(
            f"account {debit.id} is in ledger {debit.ledger} and account {credit.id} in {credit.ledger}; "
            "a transfer stays within one ledger"
        )
    for account in (debit, credit):
        if customer_id is not None and account.customer_id is not None and account.customer_id != customer_id:
            raise ForeignAccount(f"account {account.id} does not belong to customer {customer_id}")
    if debit.customer_id is not None and credit.customer_id is not None and debit.customer_id != credit.customer_id:
        raise ForeignAccount(
            f"accounts {debit.id} and {credit.id} belong to different customers; money never moves between customers"
        )
    if code is not None and (debit.kind, credit.kind) not in FLOWS[code]:
        allowed = ", ".join(f"{d} -> {c}" for d, c in sorted(FLOWS[code]))
        raise InvalidTransfer(f"a {code} moves {allowed}, not {debit.kind} -> {credit.kind}")


def _check_open(account: AccountState, *, debit: bool, may_debit_frozen: bool = False) -> None:
    if account.closed:
        raise AccountClosed(f"account {account.id} is closed")
    if debit and account.frozen and not may_debit_frozen:
        raise AccountFrozen(f"account {account.id} is frozen and cannot be debited")


def _check_overdraft(account: AccountState, amount: int) -> None:
    if account.no_overdraft and account.debits_posted + account.debits_pending > account.credits_posted:
        available = account.credits_posted - (account.debits_posted + account.debits_pending) + amount
        raise InsufficientFunds(
            f"account {account.id} has {available} available, {amount} needed",
            account_id=account.id,
            available=available,
            amount=amount,
        )


def apply_posted(debit: AccountState, credit: AccountState, amount: int, code: str) -> None:
    """Move `amount` now. Checks first, then changes both states (or neither)."""
    _check_open(debit, debit=True, may_debit_frozen=code in DEBITS_FROZEN)
    _check_open(credit, debit=False)
    debit.debits_posted += amount
    try:
        _check_overdraft(debit, amount)
    except InsufficientFunds:
        debit.debits_posted -= amount
        raise
    credit.credits_posted += amount


def apply_pending(debit: AccountState, credit: AccountState, amount: int) -> None:
    """Hold `amount`: it counts against the debit account's available balance until resolved."""
    _check_open(debit, debit=True)
    _check_open(credit, debit=False)
    debit.debits_pending += amount
    try:
        _check_overdraft(debit, amount)
    except InsufficientFunds:
        debit.debits_pending -= amount
        raise
    credit.credits_pending += amount


def apply_post_pending(debit: AccountState, credit: AccountState, pending_amount: int, amount: int) -> None:
    """Release the hold and post `amount` (<= the hold). Allowed on a frozen debit account: the hold
    was taken before the freeze and the money is already on its way (e.g. written to the chip)."""
    if amount > pending_amount:
        raise InvalidAmount(f"cannot post {amount}: the pending transfer holds only {pending_amount}")
    _check_open(debit, debit=True, may_debit_frozen=True)
    _check_open(credit, debit=False)
    debit.debits_pending -= pending_amount
    debit.debits_posted += amount
    credit.credits_pending -= pending_amount
    credit.credits_posted += amount


def apply_void_pending(debit: AccountState, credit: AccountState, pending_amount: int) -> None:
    """Release the hold; nothing moves."""
    debit.debits_pending -= pending_amount
    credit.credits_pending -= pending_amount


def check_closable(account: AccountState) -> None:
    if account.totals[2:] != (0, 0) or account.debits_posted != account.credits_posted:
        raise AccountClosed(
            f"account {account.id} can only be closed when empty (balance "
            f"{account.credits_posted - account.debits_posted}, pending debits {account.debits_pending}, "
            f"pending credits {account.credits_pending})"
        )
