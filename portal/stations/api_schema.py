"""The terminal API's contract: a pydantic model for every request body and every answer, and the
OpenAPI 3.1 document spectree builds from them (served by portal.stations.docs_views).

The request models are the validators: the views parse each body with them (`_parse` in portal.stations.api),
so what the document says a body may hold is, by construction, what the API accepts. spectree's
own request validation is off (`skip_validation`): it would answer pydantic's error list with a 422
and read a malformed body as `{}`, not the terminal API's `{"error": {...}}` with its stable codes.
`refusal` maps pydantic's first error to those codes: a missing field (or null, or "") is
`missing_field`, a number outside its range `out_of_range`, anything else `bad_field`, all 400.

Why spectree: it documents plain Flask views (the terminal API keeps its blueprint, hooks and error
handlers) from pydantic 2 models, writes OpenAPI 3.1, and its docs pages come from a package
installed here (offapi), so no CDN. Imported by the web side only (portal.stations.api and docs_views).
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree

from portal.purchases import rules
from portal.purchases.authorization import MAX_AMOUNT_FEN, MAX_LITRES_ML, MAX_TERMINAL_SEQ, MAX_UNIT_PRICE_FEN

#: The largest integer a field may carry: the database's BIGINT.
MAX_INT = 2**63 - 1
#: Times a terminal may send: a purchase happens in this century (date arithmetic overflows near
#: the years 1 and 9999; the clock-skew check refuses the rest).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099
#: PostgreSQL can neither store nor compare a NUL character.
NO_NUL = r"^[^\x00]*$"


def _text(max_length: int, *, required: bool = True, description: str = "", examples: list | None = None):
    """A string field: at most `max_length` characters, no NUL; surrounding spaces are dropped after
    the checks. Required: not null, not "". Optional: null and "" mean absent."""
    constraints = StringConstraints(min_length=1 if required else 0, max_length=max_length, pattern=NO_NUL)
    text = Annotated[str, constraints, AfterValidator(str.strip)]
    return Annotated[text if required else text | None, Field(description=description, examples=examples)]


def _count(minimum: int, maximum: int = MAX_INT, *, required: bool = True, description: str = "", examples=None):
    """An integer field between `minimum` and `maximum`, written as a JSON integer: 1.0, "1" and true
    are refused (JSON Schema would count 1.0 as an integer; the description says so). Optional ones
    may be null."""
    count = Annotated[int, Field(ge=minimum, le=maximum)]
    return Annotated[count if required else count | None, Field(description=description, examples=examples)]


def _terminal_time(value: str) -> datetime:
    """An ISO 8601 time with a UTC offset, in this century; as a UTC datetime."""
    try:
        at = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("bad_field", "must be an ISO 8601 time with a timezone") from None
    if at.tzinfo is None:
        raise PydanticCustomError("bad_field", "must include a timezone")
    if not EARLIEST_YEAR <= at.year <= LATEST_YEAR:
        raise PydanticCustomError("out_of_range", f"must be a time between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return at.astimezone(UTC)


#: A time as a terminal sends it (validated into a UTC datetime).
TerminalTime = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=NO_NUL),
    AfterValidator(str.strip),
    AfterValidator(_terminal_time),
    Field(
        json_schema_extra={"format": "date-time"},
        description=(
            f"When the fuel was sold: ISO 8601 with a UTC offset, years {EARLIEST_YEAR}-{LATEST_YEAR}; "
            "within 15 minutes of the host's clock."
        ),
        examples=["2026-03-02T10:00:00+08:00"],
    ),
]

LANGUAGE_DESCRIPTION = 'Language of `message` in the answer: "zh_CN" (default) or "en"; any other value means zh_CN.'
CARD_NUMBER = "The card's 16-digit number (spaces allowed)."
SEQUENCE = (
    "The terminal's own sequence number: the idempotency key. The same number with the same request "
    "answers the recorded answer again (replayed: true); with a different request, 409 sequence_reused."
)


class TerminalRequest(BaseModel):
    """What every body shares: JSON types only (strict), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    language: Annotated[Any, Field(description=LANGUAGE_DESCRIPTION, examples=["zh_CN", "en"])] = None


class PurchaseBody(TerminalRequest):
    """A purchase to authorize at the pump."""

    card_number: _text(32, description=CARD_NUMBER, examples=["9030110000000017"])
    product_code: _text(8, description="The product's code (e.g. 92, 95, 0).", examples=["92"])
    litres_ml: _count(1, MAX_LITRES_ML, description="Volume in millilitres.", examples=[40_000])
    unit_price_fen: _count(1, MAX_UNIT_PRICE_FEN, description="Price per litre in fen.", examples=[750])
    amount_fen: _count(
        1, MAX_AMOUNT_FEN, description="Amount in fen: litres x price, to within one fen.", examples=[30_000]
    )
    terminal_seq: _count(0, MAX_TERMINAL_SEQ, description=SEQUENCE, examples=[1])
    at: TerminalTime
    plate: _text(16, required=False, description="The vehicle's plate, if the pump asked for it.") = None
    odometer_km: _count(0, required=False, description="The odometer reading, if asked for.") = None
    station_code: _text(
        32, required=False, description="If sent, must be this terminal's station (else 404 or 409)."
    ) = None


class RefundBody(TerminalRequest):
    """A whole purchase made at this terminal's station, given back."""

    purchase_id: _count(1, description="The purchase's id, from its answer.", examples=[1])
    terminal_seq: _count(0, description=SEQUENCE, examples=[2])


class RedemptionBody(TerminalRequest):
    """Points redeemed for a voucher."""

    card_number: _text(32, description=CARD_NUMBER, examples=["9030110000000017"])
    points: _count(
        1, description="Points to redeem, in whole blocks (default 1,000 points = 10 yuan).", examples=[1000]
    )
    terminal_seq: _count(0, description=SEQUENCE, examples=[3])


class LanguageQuery(BaseModel):
    """The answer's language may also be chosen in the query string (the body's `language` wins)."""

    language: str | None = Field(default=None, description=LANGUAGE_DESCRIPTION)


# --- answers ---------------------------------------------------------------------------------------

#: `code` of a purchase answer: "approved", or why it was declined.
DECLINE_CODES = (
    "approved",
    rules.CARD_CLOSED,
    rules.CARD_LOST,
    rules.CARD_BLOCKED,
    rules.CARD_EXPIRED,
    *dict.fromkeys(rules.CONTROL_DECLINES.values()),
    rules.INSUFFICIENT_BALANCE,
)
#: `error.code` of a refusal: the request was not answered and nothing changed.
ERROR_CODES = (
    "unauthorized",
    "body_too_large",
    "rate_limited",
    "malformed_json",
    "missing_field",
    "bad_field",
    "out_of_range",
    "amount_mismatch",
    "clock_skew",
    "unknown_card",
    "unknown_product",
    "unknown_station",
    "station_mismatch",
    "unknown_purchase",
    "not_refundable",
    "already_refunded",
    "sequence_reused",
    "bad_points",
    "insufficient_points",
    "no_points_account",
    "key_reused",
    "card_lost",
    "card_closed",
    "card_blocked",
    "ledger_refused",
    "chip_refused",
    "busy_retry",
)


class PurchaseAnswer(BaseModel):
    """The answer to a purchase or a refund: approved, or declined with a reason (both 200)."""

    approved: bool
    code: Literal[DECLINE_CODES] = Field(description='"approved", or the stable reason for the decline.')
    message: str = Field(description="The reason in words, in the request's language.")
    purchase_id: int = Field(description="The purchase (or refund) recorded; a refund names it.")
    kind: Literal["purchase", "refund"]
    amount_fen: int
    points: int = Field(description="Points earned (purchase) or taken back (refund).")
    balance_fen: int | None = Field(description="The chip purse's balance after an approved answer; null if declined.")
    replayed: bool = Field(description="True when this answers a sequence number already answered.")


class RedemptionAnswer(BaseModel):
    """A redemption recorded."""

    redemption_id: int
    points: int
    value_fen: int = Field(description="The voucher's value in fen.")
    points_balance: int = Field(description="The card's points left.")
    replayed: bool


class Refusal(BaseModel):
    code: Literal[ERROR_CODES] = Field(description="Stable: terminals act on it.")
    message: str = Field(description="For people, in the request's language.")
    detail: str = Field(description="Which field or rule refused, in English (for the terminal's log).")


class ErrorBody(BaseModel):
    """A refused request: nothing was recorded."""

    error: Refusal


def refusal(error: ValidationError) -> tuple[str, str]:
    """(code, detail) for the first thing a request model refused, in the order of its fields."""
    first = error.errors(include_url=False)[0]
    name = ".".join(str(part) for part in first["loc"]) or "body"
    kind, context = first["type"], first.get("ctx") or {}
    if kind in ("missing", "string_too_short"):
        return "missing_field", f"{name} is required"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = "at least" if kind == "greater_than_equal" else "at most"
        return "out_of_range", f"{name} must be {bound} {context.get('ge', context.get('le'))}"
    if kind in ("bad_field", "out_of_range"):  # the time's own checks
        return kind, f"{name} {first['msg']}"
    if kind == "int_type":
        return "bad_field", f"{name} must be an integer"
    if kind == "string_pattern_mismatch":
        return "bad_field", f"{name} must not contain a NUL character"
    if kind == "string_too_long":
        return "bad_field", f"{name} must be a string of at most {context['max_length']} characters"
    return "bad_field", f"{name} must be a string"


# --- the document ----------------------------------------------------------------------------------

DESCRIPTION = """\
How station terminals (pumps, POS) authorize purchases, refund them and redeem points.

Every request carries the terminal's API key, as `Authorization: Bearer pt_...` or as
`X-Terminal-Key: pt_...` (the key is shown once when a system admin creates the terminal).
Money is in integer fen, volumes in integer millilitres, written without a fraction (30000, not
30000.0: a number with a fraction is refused, 400 bad_field). Each request carries the terminal's
`terminal_seq`: sending the same request again (after a timeout, or a 503 busy_retry) returns the
recorded answer with `replayed: true`, never a second purchase.

A refused request gets a 4xx or 503 with `{"error": {"code", "message", "detail"}}` and changes
nothing; `code` is stable, `message` is in the request's language (`language`: zh_CN or en).
429 and 503 carry Retry-After (seconds). Bodies are at most 64 KiB.
"""

BEARER, KEY_HEADER = "terminalBearer", "terminalKey"

spec = SpecTree(
    "flask",
    mode="strict",
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    title="Fleet Card Portal terminal API",
    version="1",
    description=DESCRIPTION,
    # Only where find_routes looks: the routes of this document are listed by `mode="strict"`.
    path="api/terminal/v1/docs",
    validation_error_status=400,
    validation_error_model=ErrorBody,
    security_schemes=[
        SecurityScheme(
            name=BEARER,
            data=SecuritySchemeData(
                type="http", scheme="bearer", description="Authorization: Bearer <the terminal's API key>"
            ),
        ),
        SecurityScheme(
            name=KEY_HEADER,
            data=SecuritySchemeData(
                type="apiKey", name="X-Terminal-Key", field_in="header", description="The terminal's API key"
            ),
        ),
    ],
    security=[{BEARER: []}, {KEY_HEADER: []}],
)

_REFUSED = {
    400: "The body is not a JSON object, or a field is missing, of the wrong type or out of range.",
    401: "Missing, unknown or revoked API key.",
    404: "No such card, product, station or purchase.",
    409: "Refused by the card's, the chip's or the books' state, or a sequence number reused.",
    413: "The body is over 64 KiB.",
    422: "The request is well formed but inconsistent (amount vs litres x price, the terminal's clock, points).",
    429: "Too many requests (failed keys per address, or requests per terminal): wait Retry-After seconds.",
    503: "The database is busy; nothing was changed: send the same request again after Retry-After.",
}


def answers(success: type[BaseModel], *statuses: int) -> Response:
    """spectree's Response: `success` on 200, the error body on each of `statuses`."""
    refusals = {f"HTTP_{status}": (ErrorBody, _REFUSED[status]) for status in statuses}
    return Response(HTTP_200=(success, "Answered."), **refusals)


def document() -> dict:
    """The OpenAPI document, with what spectree does not write itself: Retry-After on 429 and 503."""
    document = spec.spec
    for operation in (op for path in document["paths"].values() for op in path.values()):
        for status, response in operation["responses"].items():
            if status in ("429", "503"):
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before sending the request again.",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                }
    return document
