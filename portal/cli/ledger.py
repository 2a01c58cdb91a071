"""`flask --app portal ledger ...`: check the books, look at an account, void overdue holds."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from portal import ledger as books
from portal.extensions import clock, db

ledger = AppGroup("ledger", help="Inspect and check the ledger.")


@ledger.command("verify")
def verify() -> None:
    """Recompute every balance from the journal; exit 1 on any mismatch."""
    report = books.verify(db.session)
    db.session.rollback()
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


@ledger.command("balance")
@click.argument("account_id", type=int)
def balance(account_id: int) -> None:
    """Show one account's totals, balance and available amount."""
    try:
        account = books.get_account(db.session, account_id)
    except books.LedgerError as exc:
        raise click.ClickException(str(exc)) from None
    flags = [name for name in ("no_overdraft", "frozen", "closed") if getattr(account, name)]
    owner = f"customer {account.customer_id}" if account.customer_id else "system"
    if account.card_id:
        owner += f", card {account.card_id}"
    click.echo(f"account {account.id}: {account.kind} ({owner}) in {account.ledger}; flags: {', '.join(flags) or '-'}")
    click.echo(f"  posted   debits {account.debits_posted}  credits {account.credits_posted}")
    click.echo(f"  pending  debits {account.debits_pending}  credits {account.credits_pending}")
    click.echo(f"  balance {books.balance(account)}  available {books.available(account)}")


@ledger.command("expire-pending")
def expire_pending() -> None:
    """Void every pending transfer (load in flight) whose expiry has passed."""
    voided = books.expire_pending(db.session, now=clock().now())
    db.session.commit()
    click.echo(f"voided {voided} expired pending transfer(s)")
