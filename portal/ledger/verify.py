"""`verify`: recompute every balance from the journal and check the ledger's invariants.

All work is grouped SQL: the journal is never loaded into Python, so this runs on any size of
books. On PostgreSQL it reads one REPEATABLE READ snapshot, so it can run beside live traffic.

What it proves: in each ledger, posted debits equal posted credits over every account (customers',
cards', the national system accounts and each station's own: conservation); each account's stored
totals equal its journal rows; no customer account is overdrawn; every transfer moves money between
kinds its code allows (a purchase: a purse to a station_sales account) and never between two
customers; holds are resolved and transfers reversed at most once, by rows that match them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.ledger.rules import FLOWS

#: At most this many examples of one kind of problem are listed (the count is always given).
MAX_EXAMPLES = 20

_OPEN_PENDING = "kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)"

#: Stored totals next to the totals recomputed from the journal, for accounts where they differ or
#: where the recomputed totals break the no-overdraft rule.
_RECOMPUTE = """
WITH movements AS (
    SELECT debit_account_id AS account_id, amount AS dp, 0 AS cp, 0 AS dq, 0 AS cq
      FROM ledger_transfers WHERE kind IN ('posted', 'post_pending')
    UNION ALL
    SELECT credit_account_id, 0, amount, 0, 0
      FROM ledger_transfers WHERE kind IN ('posted', 'post_pending')
    UNION ALL
    SELECT debit_account_id, 0, 0, amount, 0 FROM ledger_transfers p WHERE OPEN_PENDING
    UNION ALL
    SELECT credit_account_id, 0, 0, 0, amount FROM ledger_transfers p WHERE OPEN_PENDING
), sums AS (
    SELECT account_id, SUM(dp) AS dp, SUM(cp) AS cp, SUM(dq) AS dq, SUM(cq) AS cq
      FROM movements GROUP BY account_id
), compared AS (
    SELECT a.id, a.kind, a.no_overdraft,
           a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
           COALESCE(s.dp, 0) AS dp, COALESCE(s.cp, 0) AS cp, COALESCE(s.dq, 0) AS dq, COALESCE(s.cq, 0) AS cq
      FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
)
SELECT * FROM compared
 WHERE debits_posted <> dp OR credits_posted <> cp OR debits_pending <> dq OR credits_pending <> cq
    OR (no_overdraft AND dp + dq > cp)
 ORDER BY id
""".replace("OPEN_PENDING", _OPEN_PENDING)

_TOTALS_BY_LEDGER = """
SELECT ledger, COUNT(*) AS accounts, SUM(CASE WHEN station_id IS NULL THEN 0 ELSE 1 END) AS station_accounts,
       COALESCE(SUM(debits_posted), 0) AS dp, COALESCE(SUM(credits_posted), 0) AS cp,
       COALESCE(SUM(debits_pending), 0) AS dq, COALESCE(SUM(credits_pending), 0) AS cq
  FROM ledger_accounts GROUP BY ledger ORDER BY ledger
"""

_JOURNAL_BY_LEDGER = """
SELECT ledger, COUNT(*) AS transfers,
       SUM(CASE WHEN OPEN_PENDING THEN 1 ELSE 0 END) AS open_pending
  FROM ledger_transfers p GROUP BY ledger ORDER BY ledger
""".replace("OPEN_PENDING", _OPEN_PENDING)

_ALLOWED_FLOWS = " OR ".join(
    f"(t.code = '{code}' AND d.kind = '{debit}' AND c.kind = '{credit}')"
    for code, pairs in sorted(FLOWS.items())
    for debit, credit in sorted(pairs)
)

#: Each query lists offending ids; the message says what is wrong with them.
_JOURNAL_CHECKS = {
    # What the services check before every transfer (rules.check_pair), checked again on the books:
    # e.g. a purchase moves a card's purse to a station_sales account and nowhere else. Reversals
    # mirror their transfer (checked below).
    "transfers between accounts their code does not allow": f"""
        SELECT t.id FROM ledger_transfers t
          JOIN ledger_accounts d ON d.id = t.debit_account_id
          JOIN ledger_accounts c ON c.id = t.credit_account_id
         WHERE t.code <> 'reversal' AND NOT ({_ALLOWED_FLOWS}) ORDER BY t.id""",  # noqa: S608 (constants)
    "money moved between two customers' accounts": """
        SELECT t.id FROM ledger_transfers t
          JOIN ledger_accounts d ON d.id = t.debit_account_id
          JOIN ledger_accounts c ON c.id = t.credit_account_id
         WHERE d.customer_id <> c.customer_id ORDER BY t.id""",
    "transfers whose accounts are not in the transfer's ledger": """
        SELECT t.id FROM ledger_transfers t
          JOIN ledger_accounts d ON d.id = t.debit_account_id
          JOIN ledger_accounts c ON c.id = t.credit_account_id
         WHERE d.ledger <> t.ledger OR c.ledger <> t.ledger ORDER BY t.id""",
    "pending transfers resolved more than once": """
        SELECT pending_id FROM ledger_transfers WHERE pending_id IS NOT NULL
         GROUP BY pending_id HAVING COUNT(*) > 1 ORDER BY pending_id""",
    "posts or voids that do not match their pending transfer": """
        SELECT r.id FROM ledger_transfers r LEFT JOIN ledger_transfers p ON p.id = r.pending_id
         WHERE r.pending_id IS NOT NULL AND (
               p.id IS NULL OR p.kind <> 'pending'
            OR r.debit_account_id <> p.debit_account_id OR r.credit_account_id <> p.credit_account_id
            OR (r.kind = 'post_pending' AND r.amount > p.amount)
            OR (r.kind = 'void_pending' AND r.amount <> p.amount)) ORDER BY r.id""",
    "transfers reversed more than once": """
        SELECT reversal_of FROM ledger_transfers WHERE reversal_of IS NOT NULL
         GROUP BY reversal_of HAVING COUNT(*) > 1 ORDER BY reversal_of""",
    "reversals that do not mirror the transfer they undo": """
        SELECT r.id FROM ledger_transfers r JOIN ledger_transfers o ON o.id = r.reversal_of
         WHERE r.amount <> o.amount OR r.debit_account_id <> o.credit_account_id
            OR r.credit_account_id <> o.debit_account_id OR r.kind <> 'posted'
            OR o.kind NOT IN ('posted', 'post_pending') OR o.code = 'reversal' ORDER BY r.id""",
}


@dataclass
class VerifyReport:
    """`ok` is True when no problem was found; `summary` describes the books either way."""

    summary: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        verdict = ["OK: the books balance"] if self.ok else [f"FAILED: {len(self.problems)} problem(s)"]
        return self.summary + [f"problem: {p}" for p in self.problems] + verdict


def _examples(values: list) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_EXAMPLES])
    return shown + (f" ... and {len(values) - MAX_EXAMPLES} more" if len(values) > MAX_EXAMPLES else "")


def verify(session: Session) -> VerifyReport:
    """Check the whole ledger; read-only."""
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        # One snapshot for every query below, or concurrent transfers would look like mismatches.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.flush()
    report = VerifyReport()

    journal = {row.ledger: row for row in session.execute(text(_JOURNAL_BY_LEDGER))}
    for row in session.execute(text(_TOTALS_BY_LEDGER)):
        dp, cp, dq, cq = (int(v) for v in (row.dp, row.cp, row.dq, row.cq))
        transfers = journal.get(row.ledger)
        count, open_pending = (int(transfers.transfers), int(transfers.open_pending)) if transfers else (0, 0)
        report.summary.append(
            f"ledger {row.ledger}: {row.accounts} accounts ({int(row.station_accounts)} of stations), {count} transfers, "
            f"posted {dp} debits / {cp} credits, pending {dq} / {cq} in {open_pending} open holds"
        )
        if dp != cp:
            report.problems.append(f"ledger {row.ledger}: posted debits {dp} != posted credits {cp}")
        if dq != cq:
            report.problems.append(f"ledger {row.ledger}: pending debits {dq} != pending credits {cq}")

    mismatches = session.execute(text(_RECOMPUTE)).all()
    for row in mismatches[:MAX_EXAMPLES]:
        stored = (row.debits_posted, row.credits_posted, row.debits_pending, row.credits_pending)
        journal_totals = tuple(int(v) for v in (row.dp, row.cp, row.dq, row.cq))
        if stored != journal_totals:
            report.problems.append(
                f"account {row.id} ({row.kind}): stored totals (debits, credits, pending debits, pending credits) "
                f"{stored} but the journal gives {journal_totals}"
            )
        if row.no_overdraft and journal_totals[0] + journal_totals[2] > journal_totals[1]:
            report.problems.append(f"account {row.id} ({row.kind}) is overdrawn by its journal")
    if len(mismatches) > MAX_EXAMPLES:
        report.problems.append(f"... and {len(mismatches) - MAX_EXAMPLES} more accounts that do not match")

    for description, sql in _JOURNAL_CHECKS.items():
        offenders = session.scalars(text(sql)).all()
        if offenders:
            report.problems.append(f"{len(offenders)} {description}: {_examples(offenders)}")
    return report
