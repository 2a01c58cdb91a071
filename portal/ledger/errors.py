"""Typed ledger errors. Each carries a clear English message; the web layer maps them to 4xx.

Every error except a lost idempotency race is raised before anything is written, so a caller that
catches one may carry on in the same transaction; after any error, rolling back is always safe.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: a transfer or account operation the ledger refuses."""


class InvalidAmount(LedgerError):
    """The amount is not an int in 1..MAX_AMOUNT."""


class InvalidTransfer(LedgerError):
    """A malformed request: bad id, unknown code, code not allowed between these accounts, bad expiry."""


class SameAccount(LedgerError):
    """Debit and credit name the same account."""


class UnknownAccount(LedgerError):
    """No such account."""


class ForeignAccount(LedgerError):
    """An account belongs to a different customer than the one acting."""


class LedgerMismatch(LedgerError):
    """The two accounts are in different ledgers (money and points never mix)."""


class InsufficientFunds(LedgerError):
    """The debit would take a no-overdraft account below zero (pending debits count)."""

    def __init__(self, message: str, *, account_id: int, available: int, amount: int):
        super().__init__(message)
        self.account_id = account_id
        self.available = available
        self.amount = amount


class AccountFrozen(LedgerError):
    """The account is frozen and cannot be debited."""


class AccountClosed(LedgerError):
    """The account is closed (or cannot be closed because it is not empty)."""


class IdempotencyConflict(LedgerError):
    """A transfer with this id exists with different content."""


class PendingNotFound(LedgerError):
    """No pending transfer with this id."""


class PendingAlreadyResolved(LedgerError):
    """The pending transfer was already posted, voided or expired."""


class PendingExpired(LedgerError):
    """The pending transfer's expiry has passed; it can only be voided."""


class AlreadyReversed(LedgerError):
    """The transfer already has a reversal."""


class NotReversible(LedgerError):
    """Only posted money movements can be reversed (not holds, voids or reversals)."""


class TransferNotFound(LedgerError):
    """No transfer with this id (to reverse)."""
