"""Issue #14, item 10: the same idempotency key always gets the same answer, also when two copies
arrive at once (PostgreSQL: two threads started together, each in its own transaction on its own
connection). Every keyed money operation, many rounds each (a race lost once in three pairs shows),
and each copy's answer is compared with the other's; the books are checked after.

The mechanism is portal.idempotency.claim; its unit tests are tests/unit/test_idempotency.py.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.audit.models import AuditEvent
from portal.cards import loss
from portal.cards.models import Card, LossReport
from portal.chips import loads
from portal.chips.models import LoadRequest, PurchaseUpload, VirtualChipEntry
from portal.chips.sync import sync_card
from portal.chips.virtual import VirtualReader
from portal.customers.models import Customer
from portal.db import make_sessionmaker
from portal.funds import services as funds
from portal.funds.models import Deposit
from portal.funds.plan import RawLine
from portal.points.models import PointsRedemption
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.purchases.models import Purchase
from portal.purchases.offline import record_offline_purchase
from portal.purchases.refunds import refund
from portal.rewards import services as rewards
from portal.stations.models import Terminal
from portal.stations.services import redeem_at_station
from tests.builders import (
    CARD_NUMBER,
    UNIT_A,
    create_card,
    fund_card,
    funds_customers,
    points_balance,
    purse_balance,
    station_setup,
)
from tests.builders import reserve_balance as reserve
from tests.builders import unit_balance as unit
from tests.conftest import T0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
#: Rounds of two copies each: on the code before the claim, refunds and deposits lost a third of them.
ROUNDS = 20


def race(engine, action, copies: int = 2) -> list:
    """`action(session)` in `copies` threads started together, each in its own session, committing
    at the end; each copy's result, or ("error", exception type, its code) if it raised."""
    maker = make_sessionmaker(engine)
    start = threading.Barrier(copies)
    outcomes: list = [None] * copies

    def run(i: int) -> None:
        with maker() as session:
            start.wait(timeout=30)
            try:
                outcomes[i] = action(session)
                session.commit()
            except Exception as error:  # noqa: BLE001  (compared below: an error is an answer too)
                session.rollback()
                outcomes[i] = ("error", type(error).__name__, getattr(error, "code", str(error)[:200]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def one_answer(outcomes: list):
    """The copies' common answer; fails (showing them) if they differ or any was an error."""
    assert len(set(outcomes)) == 1, outcomes
    assert outcomes[0][0] != "error", outcomes
    return outcomes[0]


def count(session, *where, of=None) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(of).where(*where))


# --- the terminal API's operations ------------------------------------------------------------------


def purchase_request(seq: int) -> PurchaseRequest:
    return PurchaseRequest(CARD_NUMBER, "92", 10_000, 750, 7_500, seq, T0)


def terminal_answer(answer) -> tuple:
    """What the terminal API answers (portal.stations.api._answer), but the `replayed` flag."""
    p = answer.purchase
    return answer.approved, answer.code, p.id, p.kind, p.amount_fen, p.points, p.balance_after_fen


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=100_000)
    session.commit()
    return w


def test_purchase_copies_sent_at_once_get_one_answer(db_engine, session, world):
    terminal_id = world.terminal.id
    for seq in range(1, ROUNDS + 1):
        flags = []

        def authorize_copy(s, seq=seq, flags=flags):
            answer = authorize(s, s.get(Terminal, terminal_id), purchase_request(seq), now=T0)
            flags.append(answer.replayed)
            return terminal_answer(answer)

        approved, code, *_ = one_answer(race(db_engine, authorize_copy))
        assert (approved, code) == (seq <= 13, "approved" if seq <= 13 else "insufficient_balance")
        assert sorted(flags) == [False, True]
    assert count(session, of=Purchase) == ROUNDS
    assert purse_balance(session, world.card) == 100_000 - 13 * 7_500
    assert ledger.verify(session).ok


def test_refund_copies_sent_at_once_get_one_answer(db_engine, session, world):
    """Issue #14: one copy got 200 approved, the other 409 already_refunded (the replay check ran
    before the purse lock)."""
    terminal_id = world.terminal.id
    for seq in range(1, ROUNDS + 1):
        purchase_id = authorize(session, world.terminal, purchase_request(1_000 + seq), now=T0).purchase.id
        session.commit()
        flags = []

        def refund_copy(s, seq=seq, purchase_id=purchase_id, flags=flags):
            answer = refund(s, s.get(Terminal, terminal_id), purchase_id=purchase_id, terminal_seq=seq, now=T0)
            flags.append(answer.replayed)
            return terminal_answer(answer)

        approved, code, _, kind, *_ = one_answer(race(db_engine, refund_copy))
        assert (approved, code, kind) == (True, "approved", "refund")
        assert sorted(flags) == [False, True]
    assert count(session, Purchase.kind == "refund", of=Purchase) == ROUNDS
    assert purse_balance(session, world.card) == 100_000
    assert ledger.verify(session).ok


def test_station_redemption_copies_sent_at_once_get_one_answer(db_engine, session, world):
    issued = ledger.system_account(session, "points_issued", ledger.POINTS)
    account = ledger.card_account(session, world.card.id, "points")
    earn = ledger.TransferRequest("earn", issued.id, account.id, ROUNDS * 1_000, "points_earn")
    ledger.transfer(session, earn, now=T0)
    session.commit()
    terminal_id = world.terminal.id
    for seq in range(1, ROUNDS + 1):
        flags = []

        def redeem_copy(s, seq=seq, flags=flags):
            done = redeem_at_station(
                s, s.get(Terminal, terminal_id), card_number=CARD_NUMBER, points_amount=1_000, terminal_seq=seq, now=T0
            )
            flags.append(done.replayed)
            return done.redemption.id, done.redemption.points, done.redemption.value_fen, done.balance_after

        assert one_answer(race(db_engine, redeem_copy))[3] == (ROUNDS - seq) * 1_000
        assert sorted(flags) == [False, True]
    assert count(session, of=PointsRedemption) == ROUNDS
    assert points_balance(session, world.card) == 0


def test_portal_redemption_copies_sent_at_once_get_one_answer(db_engine, session, world):
    issued = ledger.system_account(session, "points_issued", ledger.POINTS)
    account = ledger.card_account(session, world.card.id, "points")
    ledger.transfer(
        session, ledger.TransferRequest("earn", issued.id, account.id, ROUNDS * 1_000, "points_earn"), now=T0
    )
    session.commit()
    card_id = world.card.id
    for n in range(ROUNDS):

        def redeem_copy(s, n=n):
            done = rewards.redeem(s, s.get(Card, card_id), 1_000, key=f"{n:032x}", actor_id=None, now=T0)
            return done.redemption.id, done.redemption.points

        one_answer(race(db_engine, redeem_copy))
    assert count(session, of=PointsRedemption) == ROUNDS
    assert points_balance(session, world.card) == 0


# --- funds: deposits, allocations, collections -----------------------------------------------------


@pytest.fixture
def fleet(session):
    w = funds_customers(session, T0)
    session.commit()
    return w


def test_deposit_copies_sent_at_once_get_one_answer(db_engine, session, fleet):
    """Issue #14: two submits of one deposit form got a 500 (UniqueViolation) or "reference
    already recorded"."""
    for n in range(ROUNDS):

        def deposit_copy(s, n=n):
            deposit = funds.record_deposit(
                s, key=f"form-{n}", customer=s.get(Customer, fleet.a), amount=100_00, bank_reference=f"BANK-{n}",
                memo="", actor_id=fleet.staff_r1, now=T0,
            )  # fmt: skip
            return deposit.id, deposit.key, deposit.amount, deposit.bank_reference

        one_answer(race(db_engine, deposit_copy))
    assert count(session, of=Deposit) == ROUNDS
    assert count(session, AuditEvent.action == "funds.deposit", of=AuditEvent) == ROUNDS
    assert unit(session, fleet.a) == UNIT_A + ROUNDS * 100_00
    assert ledger.verify(session).ok


def test_two_deposit_forms_naming_one_bank_transfer_at_once_credit_it_once(db_engine, session, fleet):
    """Different keys, one bank reference: one is recorded, the other refused with the rules'
    message (never a unique violation)."""
    for n in range(ROUNDS // 2):
        keys = iter((f"a-{n}", f"b-{n}"))
        lock = threading.Lock()

        def deposit_copy(s, n=n, keys=keys, lock=lock):
            with lock:
                key = next(keys)
            funds.record_deposit(
                s, key=key, customer=s.get(Customer, fleet.a), amount=100_00, bank_reference=f"BANK-{n}",
                memo="", actor_id=fleet.staff_r1, now=T0,
            )  # fmt: skip
            return "recorded"

        outcomes = race(db_engine, deposit_copy)
        assert sorted(map(str, outcomes)) == ["('error', 'FundsError', 'duplicate_reference')", "recorded"]
    assert unit(session, fleet.a) == UNIT_A + ROUNDS // 2 * 100_00


@pytest.mark.parametrize("kind", ["allocation", "collection"])
def test_batch_confirmed_twice_at_once_posts_once(db_engine, session, fleet, kind):
    """Two confirmations of one preview (double click, two tabs), through the service alone (no
    row lock taken by a view first)."""
    if kind == "collection":
        lines = [RawLine(1, fleet.a1_number, "1000"), RawLine(2, fleet.a2_number, "1000")]
        batch = funds.prepare_batch(session, customer_id=fleet.a, kind="allocation", lines=lines,
                                    actor_id=fleet.admin_a, now=T0)  # fmt: skip
        funds.confirm_batch(session, batch, actor_id=fleet.admin_a, now=T0)
        session.commit()
    before = unit(session, fleet.a)
    for _ in range(ROUNDS):
        lines = [RawLine(1, fleet.a1_number, "10"), RawLine(2, fleet.a2_number, "20")]
        batch_id = funds.prepare_batch(
            session, customer_id=fleet.a, kind=kind, lines=lines, actor_id=fleet.admin_a, now=T0
        ).id
        session.commit()

        def confirm_copy(s, batch_id=batch_id):
            batch = funds.confirm_batch(s, funds.get_batch(s, batch_id, fleet.a), actor_id=fleet.admin_a, now=T0)
            return batch.id, batch.status, batch.unit_balance_after, tuple(line.reserve_after for line in batch.lines)

        assert one_answer(race(db_engine, confirm_copy))[1] == "posted"
    sign = -1 if kind == "allocation" else 1
    assert unit(session, fleet.a) == before + sign * ROUNDS * 30_00
    assert (
        count(session, ledger.Transfer.code == kind, ledger.Transfer.amount < 1000_00, of=ledger.Transfer) == 2 * ROUNDS
    )
    assert count(session, AuditEvent.action == f"funds.{kind}", of=AuditEvent) == ROUNDS  # the setup's is an allocation
    assert ledger.verify(session).ok


# --- chips: load requests, writes, cancellations, offline purchases ---------------------------------


@pytest.fixture
def funded(session, fleet):
    lines = [RawLine(1, fleet.a1_number, "5000")]
    batch = funds.prepare_batch(session, customer_id=fleet.a, kind="allocation", lines=lines,
                                actor_id=fleet.admin_a, now=T0)  # fmt: skip
    funds.confirm_batch(session, batch, actor_id=fleet.admin_a, now=T0)
    session.commit()
    return fleet


def request_load_copy(card_id: int, load_id: str, actor_id: int):
    def copy(s):
        load = loads.request_load(s, load_id=load_id, card=s.get(Card, card_id), amount=1_00, actor_id=actor_id, now=T0)
        return load.id, load.status, load.amount

    return copy


def test_load_request_copies_sent_at_once_hold_once(db_engine, session, funded):
    for n in range(ROUNDS):
        one_answer(race(db_engine, request_load_copy(funded.a1, f"L{n}", funded.admin_a)))
    assert count(session, of=LoadRequest) == ROUNDS
    assert count(session, ledger.Transfer.kind == "pending", of=ledger.Transfer) == ROUNDS
    reserve_account = ledger.card_account(session, funded.a1, "reserve")
    assert ledger.available(reserve_account) == 5000_00 - ROUNDS * 1_00


def test_load_written_twice_at_once_is_credited_once(db_engine, session, funded):
    for n in range(ROUNDS):
        race(db_engine, request_load_copy(funded.a1, f"L{n}", funded.admin_a), copies=1)

        def write_copy(s, n=n):
            load = s.get(LoadRequest, f"L{n}")
            written = loads.write_load(s, VirtualReader(s, now=T0), load, now=T0, actor_id=funded.admin_a)
            return written, load.status, load.chip_counter

        assert one_answer(race(db_engine, write_copy))[:2] == (True, "loaded")
    assert count(session, VirtualChipEntry.kind == "load", of=VirtualChipEntry) == ROUNDS
    assert count(session, ledger.Transfer.kind == "post_pending", of=ledger.Transfer) == ROUNDS
    assert purse_balance(session, funded.a1) == ROUNDS * 1_00
    assert reserve(session, funded.a1) == 5000_00 - ROUNDS * 1_00


def test_load_cancelled_twice_at_once_is_voided_once(db_engine, session, funded):
    for n in range(ROUNDS):
        race(db_engine, request_load_copy(funded.a1, f"L{n}", funded.admin_a), copies=1)

        def cancel_copy(s, n=n):
            load = s.get(LoadRequest, f"L{n}")
            loads.cancel_load(s, load, now=T0, actor_id=funded.admin_a)
            return load.status

        assert one_answer(race(db_engine, cancel_copy)) == "cancelled"
    assert count(session, ledger.Transfer.kind == "void_pending", of=ledger.Transfer) == ROUNDS
    assert count(session, AuditEvent.action == "chips.load_cancelled", of=AuditEvent) == ROUNDS
    assert ledger.available(ledger.card_account(session, funded.a1, "reserve")) == 5000_00


@pytest.mark.parametrize("other", ["cancel", "write"])
def test_a_sync_of_the_card_at_the_same_time_as_a_cancel_or_write_leaves_chip_and_books_agreeing(
    db_engine, session, funded, other
):
    """A sync may write the very load a person cancels or writes: whichever goes first, the load's
    state, the chip and the books agree afterwards (review: a cancel raced a sync into "expired")."""
    card_id = funded.a1
    for n in range(ROUNDS // 2):
        race(db_engine, request_load_copy(card_id, f"S{n}", funded.admin_a), copies=1)
        turns = iter(["sync", other])
        pick = threading.Lock()

        def either(s, n=n, turns=turns, pick=pick):
            with pick:
                turn = next(turns)
            reader, load = VirtualReader(s, now=T0), s.get(LoadRequest, f"S{n}")
            if turn == "sync":
                return sync_card(s, reader, s.get(Card, card_id), now=T0, actor_id=None).loads_applied
            if turn == "cancel":
                return loads.cancel_load(s, load, now=T0, actor_id=funded.admin_a)
            return loads.write_load(s, reader, load, now=T0, actor_id=funded.admin_a)

        outcomes = race(db_engine, either)
        assert not any(isinstance(o, tuple) and o[0] == "error" and o[1] != "LoadError" for o in outcomes), outcomes
        session.expire_all()
        status = session.get(LoadRequest, f"S{n}").status
        assert status in ("loaded", "cancelled"), status
        on_chip = count(session, VirtualChipEntry.load_id == f"S{n}", of=VirtualChipEntry)
        posted = count(session, ledger.Transfer.id == f"load-post:S{n}", of=ledger.Transfer)
        assert (on_chip, posted) == ((1, 1) if status == "loaded" else (0, 0))
    chip = VirtualReader(session, now=T0).read(session.get(Card, card_id).number)
    assert chip.purse_balance == purse_balance(session, card_id)
    assert ledger.verify(session).ok


def test_offline_purchase_uploaded_twice_at_once_is_booked_once(db_engine, session, world):
    card_id = world.card.id
    for counter in range(1, ROUNDS + 1):

        def upload_copy(s, counter=counter):
            purchase = record_offline_purchase(
                s, s.get(Card, card_id), chip_counter=counter, station_code="ST110001", product_code="92",
                litres_ml=1_000, amount_fen=750, at=T0, now=T0 + timedelta(hours=1),
            )  # fmt: skip
            return purchase.id, purchase.amount_fen, purchase.balance_after_fen

        one_answer(race(db_engine, upload_copy))
    assert count(session, of=Purchase) == ROUNDS
    assert purse_balance(session, world.card) == 100_000 - ROUNDS * 750
    assert ledger.verify(session).ok


def test_card_synced_twice_at_once_uploads_each_purchase_once(db_engine, session, world):
    card_id = world.card.id
    for n in range(ROUNDS // 2):
        reader = VirtualReader(session, now=T0)
        reader.simulate_purchase(CARD_NUMBER, amount=750, at=T0, station_code="ST110001", product_code="92",
                                 litres_ml=1_000)  # fmt: skip
        session.commit()

        def sync_copy(s):
            result = sync_card(s, VirtualReader(s, now=T0), s.get(Card, card_id), now=T0, actor_id=None)
            return result.purchases_uploaded, tuple(result.problems)

        outcomes = sorted(race(db_engine, sync_copy), key=str)
        assert outcomes == [(0, ()), (1, ())], outcomes
        assert count(session, of=PurchaseUpload) == n + 1
    assert purse_balance(session, world.card) == 100_000 - ROUNDS // 2 * 750
    assert ledger.verify(session).ok


# --- cards: replacing a lost card -----------------------------------------------------------------


def test_replace_form_submitted_twice_at_once_issues_one_card(db_engine, session, world):
    for n in range(ROUNDS // 2):
        card = create_card(session, world.customer, f"90301100000001{n:02d}")
        fund_card(session, card, reserve=100_00, purse=10_00, now=T0, key=f"r{n}")
        report_id = loss.report_loss(session, card, reason="lost", actor_id=None, now=T0).id
        session.commit()

        def replace_copy(s, report_id=report_id, n=n):
            new = loss.replace_card(
                s, s.get(LossReport, report_id), actor_id=None, now=T0 + timedelta(days=7), password_confirmed=True,
                idempotency_key=f"replace-form-{n}",
            )  # fmt: skip
            return new.id, new.number

        new_id, _ = one_answer(race(db_engine, replace_copy))
        assert count(session, Card.replaces_card_id == card.id, of=Card) == 1
        assert ledger.balance(ledger.card_account(session, new_id, "reserve")) == 100_00
    assert ledger.verify(session).ok
