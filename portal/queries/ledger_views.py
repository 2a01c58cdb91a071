"""Views on the ledger: balances, account transactions, points transactions and statements.
Registered on the queries blueprint (see views.py)."""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _

from portal import ledger
from portal.cards.models import Card
from portal.exports.web import export_response
from portal.exports.writers import Column
from portal.extensions import db
from portal.ledger.models import MONEY, POINTS
from portal.queries import balances, journal, labels, statements
from portal.queries.filters import FilterError, add_months, refuse_unknown
from portal.queries.states import state_label
from portal.queries.web import (
    bp,
    current_scope,
    driver_choices,
    max_days,
    page_size,
    parse,
    read_cursor,
    today,
    write_cursor,
)
from portal.web.access import requires
from portal.web.filters import card_number
from portal.web.memos import describe_movement, describe_transfer


def _side_label(side: tuple[str, str], *, grouped: bool = False) -> str:
    """An account for a reader: its kind, and its card's number (grouped in fours on pages; exports
    keep the digits, which a spreadsheet matches against other files)."""
    kind, number = side
    text = labels.label(labels.ACCOUNT_KINDS, kind)
    if not number:
        return text
    return f"{text} {card_number(number) if grouped else number}"


def _side_on_page(side: tuple[str, str]) -> str:
    return _side_label(side, grouped=True)


@bp.get("/balances", endpoint="balances")
@requires("queries.view")
def balances_page():
    """账户余额查询: each card's reserve, chip purse, pending loads and points, with totals."""
    scope = current_scope()
    args = request.args
    refuse_unknown(args, {"q", "status", "sort", "dir"})
    status, sort, direction = args.get("status", ""), args.get("sort", "number"), args.get("dir", "asc")
    if status and status not in balances.STATUSES or sort not in balances.SORTS or direction not in ("asc", "desc"):
        raise FilterError("bad_value", _("Unknown sort or status."))
    result = balances.card_balances(
        db.session, scope, search=args.get("q", ""), status=status, sort=sort, descending=direction == "desc"
    )
    customer = ledger.customer_balances(db.session, scope.customer_id) if scope.whole_customer else None
    return render_template(
        "queries/balances.html",
        result=result,
        customer=customer,
        labels=labels,
        q=args.get("q", "")[:32],
        status=status,
        sort=sort,
        direction=direction,
    )


@bp.get("/account-transactions", endpoint="account_transactions")
@requires("queries.view")
def account_transactions_page():
    """账户交易查询: deposits, allocations, collections, loads, replacements and reversals."""
    scope = current_scope()
    flt = parse(journal.account_spec(max_days()))
    j = journal.journal(db.session, scope, flt, MONEY, journal.ACCOUNT_CODES)
    page = journal.page(db.session, j, flt, key=read_cursor(flt, "account_transactions"), limit=page_size())
    cursor = write_cursor(page.next_key, "account_transactions")
    return render_template(
        "queries/account_transactions.html",
        flt=flt,
        page=page,
        labels=labels,
        side=_side_on_page,
        state_label=state_label,
        drivers=driver_choices(scope),
        types={c: labels.TRANSFER_CODES[c] for c in journal.ACCOUNT_CODES},
        next_url=url_for(".account_transactions", **flt.query_args(cursor=cursor)) if cursor else None,
    )


@bp.get("/account-transactions/export.<any(csv, xlsx):fmt>")
@requires("queries.view")
def account_transactions_export(fmt: str):
    scope = current_scope()
    flt = parse(journal.account_spec(max_days()))
    j = journal.journal(db.session, scope, flt, MONEY, journal.ACCOUNT_CODES)
    columns = (
        Column(_("Time"), "datetime"),
        Column(_("Type")),
        Column(_("Status")),
        Column(_("From")),
        Column(_("To")),
        Column(_("Amount (yuan)"), "money"),
        Column(_("Memo")),
    )
    rows = (
        (
            m.transfer.created_at,
            labels.label(labels.TRANSFER_CODES, m.transfer.code),
            state_label(m.state),
            _side_label(m.source),
            _side_label(m.target),
            m.transfer.amount,
            describe_movement(m),
        )
        for m in journal.stream(db.session, j, flt)
    )
    return export_response(fmt, f"account-transactions-{flt.start}-{flt.end}", columns, rows)


@bp.get("/points", endpoint="points_transactions")
@requires("queries.view")
def points_transactions_page():
    """积分交易查询: points earned, redeemed and expired, with the running balance."""
    scope = current_scope()
    flt = parse(journal.points_spec(max_days()))
    j = journal.journal(db.session, scope, flt, POINTS, journal.POINTS_CODES)
    page = journal.points_page(db.session, j, flt, key=read_cursor(flt, "points"), limit=page_size())
    cursor = write_cursor(page.next_key, "points")
    return render_template(
        "queries/points_transactions.html",
        flt=flt,
        page=page,
        labels=labels,
        side=_side_on_page,
        drivers=driver_choices(scope),
        types={c: labels.TRANSFER_CODES[c] for c in journal.POINTS_CODES[:3]},
        balance=journal.points_balance_now(db.session, j),
        next_url=url_for(".points_transactions", **flt.query_args(cursor=cursor)) if cursor else None,
    )


@bp.get("/points/export.<any(csv, xlsx):fmt>")
@requires("queries.view")
def points_transactions_export(fmt: str):
    scope = current_scope()
    flt = parse(journal.points_spec(max_days()))
    j = journal.journal(db.session, scope, flt, POINTS, journal.POINTS_CODES)
    columns = (
        Column(_("Time"), "datetime"),
        Column(_("Type")),
        Column(_("Card")),
        Column(_("Points"), "int"),
        Column(_("Memo")),
    )

    def card_of(m):
        if m.internal:  # a replacement card inheriting the old card's points
            return f"{m.source[1]} -> {m.target[1]}"
        return m.target[1] if m.signed >= 0 else m.source[1]

    rows = (
        (
            m.transfer.created_at,
            labels.label(labels.TRANSFER_CODES, m.transfer.code),
            card_of(m),
            m.signed,
            describe_transfer(m.transfer),
        )
        for m in journal.stream(db.session, j, flt)
    )
    return export_response(fmt, f"points-{flt.start}-{flt.end}", columns, rows)


def _statement_request():
    refuse_unknown(request.args, {"month", "card"})
    now = today()
    text = request.args.get("month") or now.strftime("%Y-%m")
    try:
        month = statements.parse_month(text, today=now)
    except statements.BadMonth:
        raise FilterError("bad_month", _("Choose a month like 2026-03, not in the future.")) from None
    card = "".join(request.args.get("card", "").split())[:19]
    scope = current_scope()
    if not card and not scope.whole_customer:
        # A driver's statement is always one of their cards: show the first.
        first = db.session.get(Card, min(scope.card_ids)) if scope.card_ids else None
        if first is None:
            abort(404)
        card = first.number
    return scope, month, card


@bp.get("/statements", endpoint="statements")
@requires("queries.view")
def statements_page():
    """对账单: a month of the unit account or of one card, printable."""
    scope, month, card = _statement_request()
    result = statements.statements(db.session, scope, month, card)
    return render_template(
        "queries/statement.html",
        statements=result,
        month=month,
        card=card,
        labels=labels,
        previous=add_months(month, -1).strftime("%Y-%m"),
        following=add_months(month, 1).strftime("%Y-%m") if add_months(month, 1) <= today() else None,
        whole_customer=scope.whole_customer,
    )


@bp.get("/statements/export.<any(csv, xlsx):fmt>")
@requires("queries.view")
def statements_export(fmt: str):
    scope, month, card = _statement_request()
    return statement_download(fmt, month, card, statements.statements(db.session, scope, month, card))


def statement_columns() -> tuple[Column, ...]:
    return (
        Column(_("Account")),
        Column(_("Time"), "datetime"),
        Column(_("Type")),
        Column(_("Counterpart")),
        Column(_("In (yuan)"), "money"),
        Column(_("Out (yuan)"), "money"),
        Column(_("Balance (yuan)"), "money"),
        Column(_("Memo")),
    )


def statement_rows(result):
    """A statement's rows for the export writers: per account its opening line, each movement and its
    closing line (rows are made as the writer asks for them)."""
    for s in result:
        name = _side_label((s.account.kind, s.card_number))
        yield (name, None, _("Opening balance"), "", None, None, s.opening, "")
        for line in s.lines:
            yield (
                name,
                line.transfer.created_at,
                labels.label(labels.TRANSFER_CODES, line.transfer.code),
                _side_label((line.other_kind, line.other_card)),
                max(line.signed, 0) or None,
                max(-line.signed, 0) or None,
                line.balance_after,
                describe_transfer(line.transfer),
            )
        yield (name, None, _("Closing balance"), "", s.money_in, s.money_out, s.closing, "")


def statement_download(fmt: str, month, card: str, result):
    """The statement as a streamed CSV or XLSX download (the page's export and the API's)."""
    suffix = card or "unit"
    # No totals row: each account's closing line already totals its money in and out.
    return export_response(
        fmt, f"statement-{month.strftime('%Y-%m')}-{suffix}", statement_columns(), statement_rows(result), totals=False
    )
