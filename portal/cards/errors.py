"""Typed refusals of the card services. Each has a stable `code`; the web layer translates by code
and answers 409 (state) or 422 (input). Raised before anything is written."""

from __future__ import annotations


class CardError(Exception):
    code = "card_error"

    def __init__(self, message: str, **detail):
        super().__init__(message)
        self.detail = detail


class CardNotFound(CardError):
    code = "card_not_found"


class CardNotActive(CardError):
    """The card is lost or closed, and the action needs an active card."""

    code = "card_not_active"


class AlreadyReported(CardError):
    code = "already_reported"


class ReportNotOpen(CardError):
    """The loss report was already cancelled or the card already replaced."""

    code = "report_not_open"


class ReplacementTooEarly(CardError):
    code = "replacement_too_early"


class FundsInFlight(CardError):
    """A load onto the chip is still pending; it must be posted, cancelled or expire first."""

    code = "funds_in_flight"


class PasswordNotConfirmed(CardError):
    code = "password_not_confirmed"


class InvalidControls(CardError):
    code = "invalid_controls"


class NotOwned(CardError):
    """A driver, vehicle, station or template of another customer (or unknown) was named."""

    code = "not_owned"


class DuplicateName(CardError):
    code = "duplicate_name"
