"""Allocation (单位帐户分配), collection (单位帐户汇总), receipts, and deposits (充值)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import idempotency, ledger
from portal.auth.web import password_refused
from portal.chips.loads import pending_load_totals
from portal.customers.models import Customer
from portal.extensions import client_ip, clock, db
from portal.funds import services
from portal.funds.forms import ConfirmForm, CsrfForm, DepositConfirmForm, DepositForm, UploadForm
from portal.funds.messages import line_error_message, service_error_message
from portal.funds.models import FundsBatch
from portal.funds.plan import MAX_CSV_BYTES, PlanRejected, card_refusal, read_csv, split_equally, top_up_to
from portal.money import AmountError, amount_in_words, format_fen_plain, parse_amount
from portal.queries.pages import numbered, numbered_rows
from portal.web.access import customer_scope, guard, owned_or_404, requires
from portal.web.filters import count, money

bp = guard(Blueprint("funds", __name__, url_prefix="/funds"))

_KINDS = {"allocate": "allocation", "collect": "collection"}


#: Cards per page of the allocation and collection tables (each row posts two fields; Werkzeug
#: refuses a form of more than 1,000 parts, so a page must stay well under 500 rows).
TABLE_PAGE_SIZE = 50
#: Helpers that fill amounts: split a total, top up to a target, the same amount each, collect all.
_HELPERS = ("split", "topup", "each", "all")
#: Lines per page of a preview or receipt (the count and total at the top are the whole batch's).
LINES_PAGE_SIZE = 100


def _query() -> str:
    return (request.values.get("q") or "").strip()[:64]


def _render_table(kind: str, *, amounts: dict[int, str], picked: set[int], errors=(), status: int = 200):
    customer_id = customer_scope()
    query = _query()
    page = numbered_rows(db.session, services.matching(customer_id, query), request.values.get("page", 1),
                         TABLE_PAGE_SIZE)  # fmt: skip
    ids = [c.id for c in page.rows]
    unit = ledger.customer_balances(db.session, customer_id).unit
    return render_template(
        "funds/table.html",
        kind=kind,
        cards=page.rows,
        page=page,
        query=query,
        balances=ledger.many_card_balances(db.session, ids),
        waiting=pending_load_totals(db.session, ids, now=clock().now()),
        usable_ids={c.id for c in page.rows if card_refusal(c.status, kind) is None},
        amounts=amounts,
        picked=picked,
        errors=errors,
        unit_balance=unit.posted,
        unit_available=unit.available,
        form=CsrfForm(),
        upload=UploadForm(),
        recent=services.recent_batches(db.session, customer_id, kind=kind),
    ), status


@bp.route("/allocate", methods=["GET", "POST"])
@requires("funds.move")
def allocate():
    """Allocate from the unit account to sub-cards: amounts, split equally, top up to N, the same each."""
    return _table_view("allocation")


@bp.route("/collect", methods=["GET", "POST"])
@requires("funds.move")
def collect():
    """Collect from sub-card reserves back to the unit account: all, or given amounts."""
    return _table_view("collection")


def _table_view(kind: str):
    """The table shows one page of the cards matching a search. A helper fills the ticked cards of
    the page, or, with "all matching" ticked, goes straight to the preview of every matching card
    (the set is fixed then: the preview lists exactly the lines that confirming posts)."""
    if request.method == "GET":
        return _render_table(kind, amounts={}, picked=set())
    form = CsrfForm()
    if not form.validate_on_submit():
        abort(400)
    customer_id = customer_scope()
    amounts = _typed_amounts()
    action = request.form.get("action", "preview")
    if action in _HELPERS and request.form.get("matching"):
        return _prepare_for_matching(kind, action, customer_id, amounts)
    if action in _HELPERS:
        return _fill_page(kind, action, customer_id, amounts)
    cards = {c.id: c for c in services.customer_cards(db.session, customer_id, include_closed=True)}
    # an id that is not one of the customer's sub-cards is named by its id: the plan calls it unknown
    lines = [
        services.RawLine(i, cards[card_id].number if card_id in cards else str(card_id), text)
        for i, (card_id, text) in enumerate(sorted(amounts.items(), key=lambda item: _number_of(cards, item[0])), 1)
    ]
    return _prepare(kind, customer_id, lines, amounts=amounts, picked=_picked(amounts))


def _number_of(cards, card_id: int) -> str:
    return cards[card_id].number if card_id in cards else ""


def _typed_amounts() -> dict[int, str]:
    """{card id: text} of the amount fields the page posted (`amount-<id>`), blank ones included."""
    amounts = {}
    for name, value in request.form.items():
        prefix, _sep, raw_id = name.partition("-")
        if prefix == "amount" and raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 12:
            amounts[int(raw_id)] = value.strip()[:32]
    return amounts


def _picked(amounts: dict[int, str]) -> set[int]:
    return {card_id for card_id in amounts if request.form.get(f"pick-{card_id}")}


def _fill_page(kind: str, action: str, customer_id: int, amounts: dict[int, str]):
    """A helper on the ticked cards of the page shown: fills their amount fields, moves nothing."""
    page = numbered_rows(db.session, services.matching(customer_id, _query()), request.form.get("page", 1),
                         TABLE_PAGE_SIZE)  # fmt: skip
    on_page = {c.id for c in page.rows}
    picked = on_page if request.form.get("pick_all") else {c for c in on_page if request.form.get(f"pick-{c}")}
    if not picked:
        return _render_table(kind, amounts=amounts, picked=picked, errors=[_("Tick the cards first.")], status=422)
    targets = [c for c in page.rows if c.id in picked]
    try:
        computed = _helper_amounts(action, kind, targets)
    except AmountError:
        return _render_table(kind, amounts=amounts, picked=picked, errors=[_("Enter a valid amount for the helper.")],
                             status=422)  # fmt: skip
    amounts.update({card_id: format_fen_plain(computed.get(card_id, 0)) for card_id in picked})
    return _render_table(kind, amounts=amounts, picked=picked)


def _prepare_for_matching(kind: str, action: str, customer_id: int, amounts: dict[int, str]):
    """A helper on every card matching the search, on every page: straight to the preview. Only
    the search travels in the form, never thousands of fields."""
    targets = services.matching_cards(db.session, customer_id, _query())
    try:
        computed = _helper_amounts(action, kind, targets)
    except AmountError:
        return _render_table(kind, amounts=amounts, picked=set(), errors=[_("Enter a valid amount for the helper.")],
                             status=422)  # fmt: skip
    lines = [
        services.RawLine(i, card.number, format_fen_plain(computed[card.id]))
        for i, card in enumerate((c for c in targets if computed.get(c.id)), start=1)
    ]
    return _prepare(kind, customer_id, lines, amounts=amounts, picked=set())


def _prepare(kind: str, customer_id: int, lines, *, amounts, picked):
    """Store the draft batch and show its preview; every problem on the table page otherwise."""
    try:
        batch = services.prepare_batch(
            db.session, customer_id=customer_id, kind=kind, lines=lines, actor_id=current_user.user.id,
            now=clock().now(), source="form", skip_blank=True,
        )  # fmt: skip
    except PlanRejected as rejected:
        db.session.rollback()
        messages = [line_error_message(e, csv=False) for e in rejected.errors]
        return _render_table(kind, amounts=amounts, picked=picked, errors=messages, status=422)
    db.session.commit()
    return redirect(url_for("funds.preview", batch_id=batch.id))


def _helper_amounts(action: str, kind: str, targets: list) -> dict[int, int]:
    """The server's version of the page helpers (the page works without JavaScript), for `targets`."""
    # split, top up and "each" allocate: only to cards that may receive an allocation
    ids = [c.id for c in targets if card_refusal(c.status, "allocation") is None]
    if action == "split":
        return split_equally(parse_amount(request.form.get("split_total", "")), ids)
    if action == "each":
        each = parse_amount(request.form.get("each_amount", ""))
        return dict.fromkeys(ids, each)
    balances = ledger.many_card_balances(db.session, [c.id for c in targets])
    if action == "topup":
        target = parse_amount(request.form.get("topup_target", ""))
        return top_up_to(target, {card_id: balances[card_id].reserve.posted for card_id in ids})
    # "collect everything" from the chosen cards (lost cards too: their reserve may come home)
    available = {c.id: balances[c.id].reserve.available for c in targets if card_refusal(c.status, kind) is None}
    return {card_id: amount for card_id, amount in available.items() if amount > 0}


@bp.post("/allocate/upload")
@requires("funds.move")
def allocate_upload():
    """Allocation from a CSV file (card_number,amount): every problem listed with its line number."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_table("allocation", amounts={}, picked=set(), errors=[_("Choose a CSV file.")], status=422)
    customer_id = customer_scope()
    try:
        lines = read_csv(form.file.data.read(MAX_CSV_BYTES + 1))  # one byte more: too large is detected
        batch = services.prepare_batch(
            db.session, customer_id=customer_id, kind="allocation", lines=lines, actor_id=current_user.user.id,
            now=clock().now(), source="csv",
        )  # fmt: skip
    except PlanRejected as rejected:
        db.session.rollback()
        messages = [line_error_message(e, csv=True) for e in rejected.errors]
        return _render_table("allocation", amounts={}, picked=set(), errors=messages, status=422)
    db.session.commit()
    return redirect(url_for("funds.preview", batch_id=batch.id))


@bp.get("/batches/<batch_id>")
@requires("funds.move")
def preview(batch_id: str):
    """The preview: every line with the resulting balance, the total, and the confirmation."""
    batch = owned_or_404(FundsBatch, batch_id[:32])
    if batch.status == "posted":
        return redirect(url_for("funds.receipt", batch_id=batch.id))
    return _render_preview(batch, ConfirmForm())


def _render_preview(batch, form, status: int = 200, error: str | None = None):
    unit_balance = ledger.customer_balances(db.session, batch.customer_id).unit.posted
    sign = 1 if batch.kind == "collection" else -1
    lines = numbered(batch.lines, request.args.get("page", 1), LINES_PAGE_SIZE)
    return render_template(
        "funds/preview.html",
        batch=batch,
        rows=services.preview_rows(db.session, batch, lines.rows),
        lines=lines,
        unit_balance=unit_balance,
        unit_after=unit_balance + sign * batch.total,
        form=form,
        error=error,
    ), status


@bp.post("/batches/<batch_id>/confirm")
@requires("funds.move")
def confirm(batch_id: str):
    """Password re-entry, then ONE ledger batch. Confirming a posted batch again posts nothing."""
    services.claim_batch(db.session, batch_id[:32])  # a copy confirmed at once waits, then sees it posted
    batch = owned_or_404(FundsBatch, batch_id[:32])
    if batch.status == "posted":
        db.session.rollback()
        flash(_("This operation was already confirmed; nothing was posted twice."), "info")
        return redirect(url_for("funds.receipt", batch_id=batch.id))
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _render_preview(batch, form, 422)
    now = clock().now()
    if (refused := password_refused(form, now, lambda: _render_preview(batch, form, 422))) is not None:
        return refused
    try:
        services.confirm_batch(db.session, batch, actor_id=current_user.user.id, now=now, ip=client_ip())
    except services.FundsError as exc:
        db.session.rollback()
        return _render_preview(
            owned_or_404(FundsBatch, batch_id[:32]), ConfirmForm(), 409, service_error_message(exc.code, exc.params)
        )
    except PlanRejected as rejected:
        db.session.rollback()
        message = " ".join(line_error_message(e, csv=False) for e in rejected.errors)
        return _render_preview(owned_or_404(FundsBatch, batch_id[:32]), ConfirmForm(), 409, message)
    db.session.commit()
    flash(_("Done: %(count)s card(s), total %(total)s.", count=count(batch.line_count), total=money(batch.total)),
          "success")  # fmt: skip
    return redirect(url_for("funds.receipt", batch_id=batch.id))


@bp.get("/batches/<batch_id>/receipt")
@requires("funds.move")
def receipt(batch_id: str):
    """The receipt of a posted allocation or collection (printable)."""
    batch = owned_or_404(FundsBatch, batch_id[:32])
    if batch.status != "posted":
        return redirect(url_for("funds.preview", batch_id=batch.id))
    lines = numbered(batch.lines, request.args.get("page", 1), LINES_PAGE_SIZE)
    return render_template(
        "funds/receipt.html", batch=batch, rows=services.preview_rows(db.session, batch, lines.rows), lines=lines
    )


@bp.route("/deposits", methods=["GET", "POST"])
@requires("funds.deposits.view", POST="funds.deposit")
def deposits():
    """Staff record bank transfers into unit accounts (their region only): the form, whose POST only
    previews (`deposit_confirm` records); admins see their deposits."""
    user = current_user.user
    if user.role == "admin":
        page = _deposits(customer_id=user.customer_id)
        unit_balance = ledger.customer_balances(db.session, user.customer_id).unit.posted
        return render_template(
            "funds/deposits.html",
            rows=page.rows,
            page=page,
            query=_deposit_query(),
            form=None,
            unit_balance=unit_balance,
        )
    form = _deposit_form(DepositForm)
    if request.method == "POST":
        if form.validate_on_submit():
            return _deposit_preview(form, owned_or_404(Customer, form.customer_id.data))  # staff: their region's only
        return _deposits_page(form, 422)
    return _deposits_page(form)


@bp.post("/deposits/confirm")
@requires("funds.deposit")
def deposit_confirm():
    """Record the previewed deposit once the staff member has re-entered their password (the
    preview's key carried through: a double submit records one deposit)."""
    form = _deposit_form(DepositConfirmForm)
    if not form.validate_on_submit():
        if set(form.errors) != {"password"}:  # the deposit itself is not one the preview showed
            return _deposits_page(form, 422)
        return _deposit_preview(form, owned_or_404(Customer, form.customer_id.data), 422)
    customer = owned_or_404(Customer, form.customer_id.data)
    now = clock().now()
    if (refused := password_refused(form, now, lambda: _deposit_preview(form, customer, 422))) is not None:
        return refused
    try:
        deposit = idempotency.answer_once(db.session, lambda: services.record_deposit(
            db.session, key=form.key.data, customer=customer, amount=form.amount.data,
            bank_reference=form.bank_reference.data, memo=form.memo.data or "", actor_id=current_user.user.id,
            now=now, ip=client_ip(),
        ))  # fmt: skip
    except services.FundsError as exc:
        db.session.rollback()
        return _deposit_preview(form, customer, 409, service_error_message(exc.code, exc.params))
    db.session.commit()
    flash(_("Deposit of %(amount)s recorded for %(customer)s.", amount=money(deposit.amount),
            customer=customer.name), "success")  # fmt: skip
    return redirect(url_for("funds.deposits"))


def _deposit_form(form_class):
    """The deposit form (or its confirmation), offering the customers of the staff member's region."""
    form = form_class()
    customers = db.session.scalars(
        select(Customer).where(Customer.region_id == current_user.user.region_id).order_by(Customer.name)
    )
    form.customer_id.choices = [(c.id, f"{c.name} ({c.credit_code})") for c in customers]
    return form


def _deposits_page(form: DepositForm, status: int = 200):
    if not form.key.data:  # the form shown again carries a key, used by every resubmit
        form.key.data = services.new_key()
    page = _deposits(region_id=current_user.user.region_id)
    return render_template(
        "funds/deposits.html", rows=page.rows, page=page, query=_deposit_query(), form=form, unit_balance=None
    ), status


#: Deposits on one page of the list.
DEPOSITS_PAGE_SIZE = 50


def _deposit_query() -> str:
    return request.args.get("q", "")[:64]


def _deposits(**scope):
    return services.deposits_for(
        db.session, query=_deposit_query(), page=request.args.get("page"), size=DEPOSITS_PAGE_SIZE, **scope
    )


def _deposit_preview(form: DepositForm, customer: Customer, status: int = 200, problem: str | None = None):
    """What will be recorded, the amount in words and figures, and the password to confirm it."""
    if not isinstance(form, DepositConfirmForm):
        form = DepositConfirmForm(
            formdata=None, key=form.key.data or services.new_key(), customer_id=customer.id, amount=form.amount.data,
            bank_reference=form.bank_reference.data.strip(), memo=(form.memo.data or "").strip(),
        )  # fmt: skip
    return render_template(
        "funds/deposit_confirm.html", form=form, customer=customer, amount=form.amount.data,
        amount_words=amount_in_words(form.amount.data, str(get_locale() or "zh_CN")), problem=problem,
    ), status  # fmt: skip
