"""Points on the POINTS ledger: earn (points_issued -> card points), redeem (card points ->
points_redeemed), expire (card points -> points_expired). Flush, never commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import ledger
from portal.ledger import memos
from portal.ledger.models import Account, Transfer
from portal.points import rules
from portal.points.models import PointsRedemption, PointsRule, rules_that_may_apply
from portal.purchases.models import Purchase

if TYPE_CHECKING:
    from portal.ledger.rules import AccountState

#: Points older than this expire (configurable: `flask points expire --days N`, app config
#: POINTS_EXPIRY_DAYS).
DEFAULT_EXPIRY_DAYS = 730
#: The claim scope of redemptions (portal.idempotency), keyed by their ledger transfer id.
REDEMPTION = "points-redemption"


class PointsError(Exception):
    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def load_rules(
    session: Session, *, purchase: Purchase | None = None, product_kind: str | None = None
) -> list[rules.Rule]:
    """The active rules, ordered by id (the first of equally specific rules wins); given a purchase
    and its product's kind, only those that may apply to it (`models.rules_that_may_apply`, as
    the pump reads them)."""
    where = (
        PointsRule.active
        if purchase is None
        else rules_that_may_apply(product_kind, purchase.product_code, purchase.region_id)
    )
    rows = session.scalars(select(PointsRule).where(where).order_by(PointsRule.id))
    return [rules.Rule(r.product_kind, r.step_fen, r.points_per_step, r.product_code, r.region_id) for r in rows]


def points_account(session: Session, card_id: int) -> Account | None:
    return session.scalar(select(Account).where(Account.card_id == card_id, Account.kind == "points"))


def points_for_purchase(session: Session, purchase: Purchase, product_kind: str) -> int:
    """The points a purchase earns by the rules in force (0 if the card has no points account)."""
    if points_account(session, purchase.card_id) is None:
        return 0
    return earned_points(session, purchase, product_kind)


def earned_points(
    session: Session, purchase: Purchase, product_kind: str, *, rules_in_force: list[rules.Rule] | None = None
) -> int:
    """The points a purchase earns by the rules in force, for a card known to have a points account.

    `rules_in_force`: the rules that may apply (ordered by id) when the caller read them already
    (the pump does, in its facts statement); else they are read here the same way."""
    if rules_in_force is None:
        rules_in_force = load_rules(session, purchase=purchase, product_kind=product_kind)
    return rules.earn(
        rules_in_force,
        amount_fen=purchase.amount_fen,
        product_kind=product_kind,
        product_code=purchase.product_code,
        region_id=purchase.region_id,
    )


def earn_request(purchase: Purchase, points_issued_id: int, points_account_id: int) -> ledger.TransferRequest:
    """The transfer crediting `purchase.points` to the card (points_issued -> points); it can be
    posted in one batch with the purchase's money."""
    return ledger.TransferRequest(
        id=earn_transfer_id(purchase),
        debit_account_id=points_issued_id,
        credit_account_id=points_account_id,
        amount=purchase.points,
        code="points_earn",
        memo=memos.structured(purchase=purchase.id),
    )


def earn_transfer_id(purchase: Purchase) -> str:
    return f"{purchase.transfer_id}:pts"


def take_back_for_refund(session: Session, purchase: Purchase, refund_transfer_id: str, *, now: datetime) -> int:
    """Reverse the points a refunded purchase earned, if the card still holds them; returns them."""
    if purchase.points <= 0:
        return 0
    try:
        with session.begin_nested():
            ledger.reverse(
                session,
                f"{refund_transfer_id}:pts",
                earn_transfer_id(purchase),
                now=now,
                memo=memos.structured(reason="refund"),
            )
    except ledger.InsufficientFunds:
        return 0  # already redeemed: the programme absorbs it rather than overdrawing the card
    return purchase.points


@dataclass(frozen=True)
class RedeemRequest:
    card_id: int
    customer_id: int
    points: int
    channel: str  # "station" | "portal"
    transfer_id: str
    station_id: int | None = None
    terminal_id: int | None = None
    terminal_seq: int | None = None
    actor_id: int | None = None


def redeem(
    session: Session,
    request: RedeemRequest,
    *,
    now: datetime,
    block_points: int = rules.REDEMPTION_BLOCK_POINTS,
    block_value_fen: int = rules.REDEMPTION_BLOCK_VALUE_FEN,
) -> PointsRedemption:
    """Spend points for a voucher. Idempotent on `transfer_id`, which the caller claims first
    (`portal.idempotency.claim(session, REDEMPTION, transfer_id)`), before it looks for it itself."""
    existing = session.scalar(select(PointsRedemption).where(PointsRedemption.transfer_id == request.transfer_id))
    if existing is not None:
        if (existing.card_id, existing.points) != (request.card_id, request.points):
            raise PointsError("key_reused", "This redemption key was already used for a different redemption.", 409)
        return existing
    try:
        value = rules.redemption_value(request.points, block_points=block_points, block_value_fen=block_value_fen)
    except ValueError:
        raise PointsError("bad_points", f"Points are redeemed in whole blocks of {block_points}.", 422) from None
    account = points_account(session, request.card_id)
    if account is None:
        raise PointsError("no_points_account", "This card has no points account.", 409)
    try:
        ledger.transfer(
            session,
            ledger.TransferRequest(
                id=request.transfer_id,
                debit_account_id=account.id,
                credit_account_id=ledger.system_account(session, "points_redeemed", ledger.POINTS).id,
                amount=request.points,
                code="points_redeem",
                actor_id=request.actor_id,
                memo=memos.structured(voucher_fen=value, channel=request.channel),
            ),
            now=now,
        )
    except ledger.InsufficientFunds:
        raise PointsError("insufficient_points", "The card does not have that many points.", 409) from None
    except (ledger.AccountFrozen, ledger.AccountClosed):
        raise PointsError("card_blocked", "The card's points are blocked.", 409) from None
    redemption = PointsRedemption(
        customer_id=request.customer_id,
        card_id=request.card_id,
        points=request.points,
        value_fen=value,
        channel=request.channel,
        station_id=request.station_id,
        terminal_id=request.terminal_id,
        terminal_seq=request.terminal_seq,
        actor_id=request.actor_id,
        transfer_id=request.transfer_id,
        at=now,
    )
    session.add(redemption)
    session.flush()
    return redemption


@dataclass
class ExpiryResult:
    cutoff: datetime
    accounts: int = 0
    points: int = 0
    #: Accounts the ledger refused to debit (a frozen account of a lost card, a closed one): account id
    #: -> the ledger's reason. They are left for a later run; the rest expire.
    skipped: dict[int, str] = field(default_factory=dict)


def _next_batch(session: Session, after: int, size: int) -> list[int]:
    """The next `size` card points accounts after id `after` that may hold points to expire, by id."""
    return list(
        session.scalars(
            select(Account.id)
            .where(
                Account.kind == "points",
                Account.card_id.is_not(None),
                Account.credits_posted > Account.debits_posted,
                Account.id > after,
            )
            .order_by(Account.id)
            .limit(size)
        )
    )


def _earned_before(session: Session, account_ids: list[int], cutoff: datetime) -> dict[int, int]:
    """{account id: points credited to it before the cutoff} for the given accounts."""
    rows = session.execute(
        select(Transfer.credit_account_id, func.sum(Transfer.amount))
        .where(
            Transfer.ledger == ledger.POINTS,
            Transfer.kind == "posted",
            Transfer.created_at < cutoff,
            Transfer.credit_account_id.in_(account_ids),
        )
        .group_by(Transfer.credit_account_id)
    )
    return {account_id: int(earned) for account_id, earned in rows}


def _expire_one(
    session: Session, state: AccountState, earned: int, cutoff: datetime, expired_account_id: int, now: datetime
) -> int:
    """Expire what the FIFO rule says of one account, from its balances as they are now (`state`,
    read under the batch's lock)."""
    consumed = state.debits_posted + state.debits_pending
    amount = min(rules.points_to_expire(earned, consumed), state.credits_posted - consumed)
    if amount <= 0:
        return 0
    request = ledger.TransferRequest(
        id=f"pts-expire:{state.id}:{cutoff.date().isoformat()}",
        debit_account_id=state.id,
        credit_account_id=expired_account_id,
        amount=amount,
        code="points_expire",
        memo=memos.structured(earned_before=cutoff.date().isoformat()),
    )
    with session.begin_nested():  # a refused account leaves nothing behind
        ledger.transfer(session, request, now=now)
    return amount


def expire_points(
    session: Session,
    *,
    now: datetime,
    days: int = DEFAULT_EXPIRY_DAYS,
    batch_size: int = 500,
    end_batch: Callable[[], None] | None = None,
) -> ExpiryResult:
    """Expire, in every card points account, points earned more than `days` ago and not yet consumed.

    FIFO (see portal.points.rules): to expire = credits before the cutoff - all debits so far.
    The transfer id names the account and the cutoff day, so running twice a day posts once.
    An account the ledger refuses (frozen: a lost card) is skipped and reported, never stops the run.
    Accounts go in batches of `batch_size` (by id); each batch locks and re-reads its accounts'
    balances first, and `end_batch` (the caller's commit) is called after it.
    """
    cutoff = now - timedelta(days=days)
    result = ExpiryResult(cutoff=cutoff)
    expired_account_id = ledger.system_account(session, "points_expired", ledger.POINTS).id
    after = 0
    while ids := _next_batch(session, after, batch_size):
        # Each batch reads its balances afresh, locked (PostgreSQL; SQLite serializes writers) for the
        # rest of its transaction: a redemption committed since the run began counts, and none can
        # come between the figure and the expiry.
        states = ledger.lock_accounts(session, [*ids, expired_account_id])
        earned = _earned_before(session, ids, cutoff)
        for account_id in ids:
            if not earned.get(account_id):
                continue
            try:
                amount = _expire_one(session, states[account_id], earned[account_id], cutoff, expired_account_id, now)
            except ledger.LedgerError as refused:
                result.skipped[account_id] = str(refused)
                continue
            if amount:
                result.accounts += 1
                result.points += amount
        after = ids[-1]
        if end_batch is not None:
            end_batch()
    return result
