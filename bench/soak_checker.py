"""The soak test's checker (bench/soak.py): what the clients were told, held against the books.

Clients record every operation they attempted with its idempotency key and every answer they got
(`Operation`, `Attempt`). An answer is *acknowledged* only if the client got a success; a lost
connection, a 503 or a 5xx that a kill explains is *unknown* (the operation may or may not have
happened); any other 4xx is a *refusal* (it must have changed nothing). `check` then reads the
database, never the clients' memory of it:

- every acknowledged operation is in the books exactly once, every unknown one at most once, every
  refused one not at all, and each acknowledged answer agrees with the row it names;
- nothing is in the books that no client asked for, and every money journal row belongs to exactly
  one operation (or to the world's set-up), with the operation's amount: no duplicate effect;
- the two answers of every pair of duplicates sent at once are the same;
- no 5xx that no kill explains;
- no customer account is negative, and the ledger's own `verify` passes.

`inject` writes one kind of bad row (for the self-test and tests/integration/test_soak_checker.py):
the checker must then fail. Plain SQL on a Session; no Flask.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal import ledger

#: Kinds of operation, and the prefix of their ledger batch (funds) where they have one.
KINDS = ("purchase", "refund", "allocation", "collection", "load", "deposit")
BATCH_PREFIX = {"allocation": "alloc", "collection": "collect"}
#: A 5xx answered this long (seconds) after the app's database connections were terminated may be
#: put down to it (see attribute_kills). A killed worker's requests get no answer at all, never a 5xx.
KILL_WINDOW = 5.0
#: At most this many examples of one kind of violation are listed.
MAX_EXAMPLES = 10


@dataclass
class Attempt:
    """One request and its answer. `status` None: no answer (connection refused, reset, timed out)."""

    status: int | None
    #: What two answers must agree on: status and the body's key fields (purchase id, approval,
    #: error code; the redirect's path for forms).
    answer: tuple = ()
    #: time.monotonic() when the answer (or the failure) came.
    at: float = 0.0
    #: The request was one of two sent at once with the same key.
    paired: bool = False
    #: A success answer for this kind of operation (set by the client that knows the endpoint).
    success: bool = False
    #: A 5xx put down to a terminated database connection (set by `attribute_kills`).
    explained: bool = False
    #: The request's id (the server names it when it logs an error).
    request_id: str = ""


@dataclass
class Operation:
    """One money operation under one idempotency key, with every attempt made for it."""

    kind: str
    #: The idempotency key: "terminal_id:seq" (terminal API), the batch id, the load or deposit key.
    key: str
    amount: int = 0
    #: The purchase a refund gives back.
    refund_of: int | None = None
    duplicate: bool = False
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Outcome:
    """What the checker found. `ok` when no violation."""

    violations: list[str] = field(default_factory=list)
    duplicate_mismatches: int = 0
    unexplained_5xx: int = 0
    counts: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations


def attribute_kills(
    operations: list[Operation], kills: list[tuple[float, int]], server_errors: dict[str, bool] | None = None
) -> None:
    """Mark the 5xx answers that terminated database connections explain. `server_errors`: {request
    id: the server logged the error as a lost database connection}; it decides where it names the
    request. Otherwise `kills` do: (when, as time.monotonic(); how many connections were
    terminated). A terminated connection fails one request, the one using it or its worker's next
    (portal.db.ping_when_idle), so each kill of n connections explains at most the first n 5xx
    answers within KILL_WINDOW after it."""
    server_errors = server_errors or {}
    failed = sorted(
        (a for op in operations for a in op.attempts if a.status is not None and a.status >= 500 and a.status != 503),
        key=lambda a: a.at,
    )
    for attempt in failed:
        attempt.explained = server_errors.get(attempt.request_id, False)
    failed = [a for a in failed if a.request_id not in server_errors]
    for at, connections in sorted(kills):
        near = [a for a in failed if not a.explained and at <= a.at <= at + KILL_WINDOW]
        for attempt in near[:connections]:
            attempt.explained = True


def verdict(attempt: Attempt) -> str:
    """ "ack", "unknown", "refused", or "error" for a 5xx that no kill explains (see attribute_kills)."""
    if attempt.success:
        return "ack"
    if attempt.status is None or attempt.status == 503:
        return "unknown"
    if attempt.status >= 500:
        return "unknown" if attempt.explained else "error"
    return "refused"


def outcome_of(operation: Operation) -> str:
    """ack if any attempt was acknowledged; else unknown if any may have happened; else refused."""
    verdicts = {verdict(a) for a in operation.attempts}
    if "ack" in verdicts:
        return "ack"
    if verdicts & {"unknown", "error"}:
        return "unknown"
    return "refused"


# --- the checker ---------------------------------------------------------------------------------


def check(
    session: Session,
    operations: list[Operation],
    *,
    kills: list[tuple[float, int]] = (),
    server_errors: dict[str, bool] | None = None,
    setup_prefix: str = "soak-setup:",
) -> Outcome:
    """Hold the clients' record against the database. Read-only. `kills`, `server_errors`: see
    `attribute_kills`."""
    out = Outcome()
    attribute_kills(operations, kills, server_errors)
    books = _Books(session)
    by_kind = defaultdict(list)
    for operation in operations:
        by_kind[operation.kind].append(operation)
        out.counts[outcome_of(operation)] += 1
    problems: dict[str, list[str]] = defaultdict(list)
    for operation in operations:
        _check_operation(books, operation, outcome_of(operation), problems)
    _check_nothing_unasked(books, by_kind, problems)
    _check_journal_claims(books, setup_prefix, problems)
    _check_answers(operations, problems, out)
    _check_no_negative(session, problems)
    report = ledger.verify(session)
    if not report.ok:
        problems["ledger verify failed"].extend(report.problems)
    for description, examples in problems.items():
        shown = "; ".join(examples[:MAX_EXAMPLES]) + (" ..." if len(examples) > MAX_EXAMPLES else "")
        kinds = Counter(e.split(" ", 1)[0] for e in examples if e.split(" ", 1)[0] in KINDS)
        by_kind = "".join(f", {kind} {n}" for kind, n in sorted(kinds.items())) if len(kinds) > 1 else ""
        out.violations.append(f"{description} ({len(examples)}{by_kind}): {shown}")
    return out


class _Books:
    """The rows the checker compares, read once."""

    def __init__(self, session: Session):
        rows = session.execute(
            text(
                "SELECT id, kind, status, terminal_id, terminal_seq, amount_fen, transfer_id, refund_of_id"
                " FROM purchases WHERE terminal_id IS NOT NULL"
            )
        ).all()
        self.purchases = defaultdict(list)
        for row in rows:
            self.purchases[f"{row.terminal_id}:{row.terminal_seq}"].append(row)
        self.batches = {r.id: r for r in session.execute(text("SELECT id, kind, status, total FROM funds_batches"))}
        self.lines = defaultdict(list)
        for r in session.execute(text("SELECT batch_id, line_no, amount FROM funds_batch_lines")):
            self.lines[r.batch_id].append(r)
        self.loads = Counter()
        self.load_amounts = {}
        for r in session.execute(text("SELECT id, amount FROM load_requests")):
            self.loads[r.id] += 1
            self.load_amounts[r.id] = r.amount
        self.deposits = defaultdict(list)
        for r in session.execute(text("SELECT key, amount, transfer_id FROM deposits")):
            self.deposits[r.key].append(r)
        self.transfers = {
            r.id: r
            for r in session.execute(
                text("SELECT id, ledger, kind, code, amount, pending_id, batch_id FROM ledger_transfers")
            )
        }
        self.by_batch = defaultdict(list)
        for t in self.transfers.values():
            if t.batch_id:
                self.by_batch[t.batch_id].append(t)


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


_WRONG_COUNT = {
    "ack": "acknowledged operations not in the books exactly once",
    "unknown": "unknown operations in the books more than once",
    "refused": "refused operations that changed the books",
}


def _check_operation(books: _Books, op: Operation, outcome: str, problems) -> None:
    """Exactly once when acknowledged, at most once when unknown, not at all when refused."""
    allowed = {"ack": (1,), "unknown": (0, 1), "refused": (0,)}[outcome]
    found = _effects(books, op, problems)
    if found not in allowed:
        problems[_WRONG_COUNT[outcome]].append(f"{op.kind} {op.key} found {_times(found)}")


def _effects(books: _Books, op: Operation, problems) -> int:
    """How many times `op` is in the books; records rows that disagree with what the client sent."""
    if op.kind in ("purchase", "refund"):
        rows = books.purchases.get(op.key, [])
        for row in rows:
            wrong = row.kind != op.kind or (op.kind == "refund" and row.refund_of_id != op.refund_of)
            if wrong or row.amount_fen != op.amount:
                problems["rows that differ from the request"].append(f"{op.kind} {op.key}: purchase {row.id}")
            if row.status == "approved" and _amount(books, row.transfer_id) != row.amount_fen:
                problems["approved rows without their ledger transfer"].append(f"{op.kind} {op.key}")
        _check_acknowledged_answer(op, rows, problems)
        return len(rows)
    if op.kind in BATCH_PREFIX:
        batch = books.batches.get(op.key)
        posted = books.by_batch.get(f"{BATCH_PREFIX[op.kind]}:{op.key}", [])
        if batch is None:
            return len(posted)
        lines = books.lines.get(op.key, [])
        if posted and sorted(t.amount for t in posted) != sorted(line.amount for line in lines):
            problems["batches whose journal differs from their lines"].append(f"{op.kind} {op.key}")
        if (batch.status == "posted") != bool(posted):
            problems["batches whose status differs from the journal"].append(f"{op.kind} {op.key}: {batch.status}")
        return 1 if posted else 0
    if op.kind == "load":
        found = books.loads.get(op.key, 0)
        held = _amount(books, f"load:{op.key}")
        if (held is not None) != bool(found) or (found and held != op.amount):
            problems["loads whose hold differs from the request"].append(f"load {op.key}")
        return found
    rows = books.deposits.get(op.key, [])
    for row in rows:
        if row.amount != op.amount or _amount(books, row.transfer_id) != row.amount:
            problems["deposits that differ from the request or the journal"].append(f"deposit {op.key}")
    return len(rows)


def _amount(books: _Books, transfer_id: str | None) -> int | None:
    transfer = books.transfers.get(transfer_id) if transfer_id else None
    return None if transfer is None else transfer.amount


def _check_acknowledged_answer(op: Operation, rows, problems) -> None:
    """A terminal's acknowledged answer names the row that is in the books, with its approval."""
    if len(rows) != 1:
        return
    row = rows[0]
    for attempt in op.attempts:
        if attempt.success and attempt.answer[1:3] != (row.status == "approved", row.id):
            problems["acknowledged answers that differ from the books"].append(
                f"{op.kind} {op.key}: told {attempt.answer}, books purchase {row.id} {row.status}"
            )


def _check_nothing_unasked(books: _Books, by_kind, problems) -> None:
    """Every effect in the books answers some client's request."""
    asked = {kind: {op.key for op in ops} for kind, ops in by_kind.items()}
    for key, rows in books.purchases.items():
        for row in rows:
            if key not in asked.get(row.kind, set()):
                problems["rows no client asked for"].append(f"{row.kind} {key}")
    for batch in books.batches.values():
        if batch.status == "posted" and batch.id not in asked.get(batch.kind, set()):
            problems["rows no client asked for"].append(f"{batch.kind} {batch.id}")
    for key in books.loads:
        if key not in asked.get("load", set()):
            problems["rows no client asked for"].append(f"load {key}")
    for key in books.deposits:
        if key not in asked.get("deposit", set()):
            problems["rows no client asked for"].append(f"deposit {key}")


def _check_journal_claims(books: _Books, setup_prefix: str, problems) -> None:
    """Every journal row belongs to exactly one operation's row: a second row for one operation,
    under any id, is a duplicate effect."""
    claimed = {row.transfer_id for rows in books.purchases.values() for row in rows if row.transfer_id}
    claimed |= {row.transfer_id for rows in books.deposits.values() for row in rows}
    claimed |= {f"load:{key}" for key in books.loads}
    for batch in books.batches.values():
        claimed |= {f"{BATCH_PREFIX[batch.kind]}:{batch.id}:{line.line_no}" for line in books.lines[batch.id]}
    for t in books.transfers.values():
        mine = (
            t.id in claimed
            or t.id.startswith(setup_prefix)
            or t.id.rsplit(":", 1)[0] in claimed  # derived ids: a purchase's points, "...:pts"
            or t.pending_id in claimed  # a load's post or void
        )
        if not mine:
            problems["journal rows that belong to no operation (duplicate effects)"].append(
                f"{t.id} ({t.code} {t.amount})"
            )


def _check_answers(operations: list[Operation], problems, out: Outcome) -> None:
    """Both answers of a pair sent at once agree; no 5xx without a kill to explain it."""
    for op in operations:
        for attempt in op.attempts:
            if verdict(attempt) == "error":
                out.unexplained_5xx += 1
                problems["5xx answers no kill explains"].append(f"{op.kind} {op.key}: {attempt.status}")
        pair = [a for a in op.attempts if a.paired][:2]
        if len(pair) == 2 and all(verdict(a) in ("ack", "refused", "error") for a in pair):
            if pair[0].answer != pair[1].answer:
                out.duplicate_mismatches += 1
                problems["duplicates sent at once that got different answers"].append(
                    f"{op.kind} {op.key}: {pair[0].answer} vs {pair[1].answer}"
                )


_NEGATIVE = text(
    "SELECT id, kind, credits_posted - debits_posted - debits_pending AS available FROM ledger_accounts"
    " WHERE kind IN ('unit', 'reserve', 'purse', 'points')"
    " AND credits_posted - debits_posted - debits_pending < 0 ORDER BY id"
)


def _check_no_negative(session: Session, problems) -> None:
    """Customer accounts (unit, reserve, purse, points) never below zero, holds counted as spent."""
    for row in session.execute(_NEGATIVE):
        problems["negative customer accounts"].append(f"account {row.id} ({row.kind}) {row.available}")


# --- faults, to show the checker fails -----------------------------------------------------------

FAULTS = ("duplicate", "negative", "conservation", "lost")


def inject(session: Session, fault: str, operations: list[Operation]) -> str:
    """Write one bad row (flush, never commit: roll back to undo) or, for "lost", add to the
    record an acknowledged operation that is not in the books. Returns what was done."""
    if fault == "lost":
        operations.append(
            Operation("deposit", "soak-lost-key", 100, attempts=[Attempt(302, (302, "/funds/deposits"), success=True)])
        )
        return "an acknowledged deposit the books never saw"
    acked = next(
        (op for op in operations if op.kind == "purchase" and outcome_of(op) == "ack" and op.attempts),
        None,
    )
    row = session.execute(
        text(
            "SELECT t.id, t.amount, t.debit_account_id, t.credit_account_id, t.code FROM ledger_transfers t"
            " JOIN purchases p ON p.transfer_id = t.id WHERE p.terminal_id || ':' || p.terminal_seq = :key"
            if acked
            else "SELECT id, amount, debit_account_id, credit_account_id, code FROM ledger_transfers"
            " WHERE code = 'purchase' ORDER BY id LIMIT 1"
        ),
        {"key": acked.key if acked else ""},
    ).one()
    if fault == "duplicate":  # the same purchase's money moved a second time, books kept in step
        _post(session, f"{row.id}#again", row.debit_account_id, row.credit_account_id, row.amount, row.code)
        return f"a second journal row for {row.id}"
    if fault == "negative":  # the purse spent below zero (its no-overdraft flag lifted)
        available = session.execute(
            text("SELECT credits_posted - debits_posted - debits_pending FROM ledger_accounts WHERE id = :a"),
            {"a": row.debit_account_id},
        ).scalar_one()
        session.execute(
            text("UPDATE ledger_accounts SET no_overdraft = false WHERE id = :a"), {"a": row.debit_account_id}
        )
        _post(session, "soak-fault:overdraw", row.debit_account_id, row.credit_account_id, available + 100, "purchase")
        return f"purse account {row.debit_account_id} overdrawn by 100"
    if fault == "conservation":  # a credit with no debit
        session.execute(
            text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :a"),
            {"a": row.credit_account_id},
        )
        return f"1 fen credited to account {row.credit_account_id} with no debit"
    raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")


def _post(session: Session, transfer_id: str, debit: int, credit: int, amount: int, code: str) -> None:
    """A posted journal row with both accounts' totals moved (as the ledger would, minus its rules)."""
    session.execute(
        text(
            "INSERT INTO ledger_transfers (id, ledger, debit_account_id, credit_account_id, amount, code, kind,"
            " memo, created_at) VALUES (:id, 'CNY', :d, :c, :amount, :code, 'posted', 'injected', CURRENT_TIMESTAMP)"
        ),
        {"id": transfer_id, "d": debit, "c": credit, "amount": amount, "code": code},
    )
    session.execute(
        text("UPDATE ledger_accounts SET debits_posted = debits_posted + :x WHERE id = :a"), {"x": amount, "a": debit}
    )
    session.execute(
        text("UPDATE ledger_accounts SET credits_posted = credits_posted + :x WHERE id = :a"),
        {"x": amount, "a": credit},
    )
