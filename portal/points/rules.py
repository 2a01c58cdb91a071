"""Points arithmetic: pure integers, no database.

Earning: points = (amount_fen // step_fen) * points_per_step — rounded DOWN to whole steps per
purchase (99.99 yuan at 1 point per yuan earns 99). Redemption: whole blocks only (default 1,000
points = 10 yuan). Expiry is first-in-first-out: every debit (redeem, expire, refund take-back)
consumes the oldest points first, so what expires is whatever was earned before the cutoff and not
yet consumed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Built-in rules used when the points_rules table has no active rule for a product kind
#: (migration 0007 seeds the same rows so admins can see and change them).
DEFAULT_RULES = {"gasoline": (100, 1), "diesel": (200, 1)}  # kind -> (step_fen, points_per_step)

#: Default redemption: 1,000 points buy a voucher of 10 yuan.
REDEMPTION_BLOCK_POINTS = 1000
REDEMPTION_BLOCK_VALUE_FEN = 1000


@dataclass(frozen=True)
class Rule:
    product_kind: str
    step_fen: int
    points_per_step: int
    product_code: str | None = None
    region_id: int | None = None

    def specificity(self) -> int:
        """Product code beats kind; a region beats every region."""
        return (2 if self.product_code else 0) + (1 if self.region_id is not None else 0)

    def applies(self, product_kind: str, product_code: str, region_id: int) -> bool:
        return (
            self.product_kind == product_kind
            and self.product_code in (None, product_code)
            and self.region_id in (None, region_id)
        )


def points_for(amount_fen: int, step_fen: int, points_per_step: int) -> int:
    if amount_fen <= 0:
        return 0
    return (amount_fen // step_fen) * points_per_step


def choose_rule(rules: list[Rule], product_kind: str, product_code: str, region_id: int) -> Rule | None:
    """The most specific applicable rule; among equals, the first given (callers order by id)."""
    best = None
    for rule in rules:
        if rule.applies(product_kind, product_code, region_id) and (
            best is None or rule.specificity() > best.specificity()
        ):
            best = rule
    if best is None and product_kind in DEFAULT_RULES:
        step, per = DEFAULT_RULES[product_kind]
        best = Rule(product_kind, step, per)
    return best


def earn(rules: list[Rule], *, amount_fen: int, product_kind: str, product_code: str, region_id: int) -> int:
    rule = choose_rule(rules, product_kind, product_code, region_id)
    return 0 if rule is None else points_for(amount_fen, rule.step_fen, rule.points_per_step)


def redemption_value(
    points: int, *, block_points: int = REDEMPTION_BLOCK_POINTS, block_value_fen: int = REDEMPTION_BLOCK_VALUE_FEN
) -> int:
    """Fen a redemption of `points` is worth; ValueError unless a positive whole number of blocks."""
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ValueError("points must be a positive integer")
    if points % block_points:
        raise ValueError(f"points are redeemed in blocks of {block_points}")
    return points // block_points * block_value_fen


def points_to_expire(earned_before_cutoff: int, consumed_total: int) -> int:
    """FIFO: points earned before the cutoff that no debit has consumed yet."""
    return max(0, earned_before_cutoff - consumed_total)
