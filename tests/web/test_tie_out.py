"""The tie-out test (issue 12): on randomized worlds, after random sequences of every money operation,
every figure a user sees or downloads equals the value summed from the ledger journal.

Operations go through the real services (deposit, allocation, collection, load requested / written /
cancelled / expired, online purchase and refund at a terminal, offline purchase from a chip, points
redemption and expiry, loss and replacement), each committed as its own user action. Figures are
read from the rendered pages and the CSV / XLSX downloads through the test client, as the fleet admin
and as the driver, in the language Hypothesis picks; the expected values come from `figures.Books`,
which sums the ledger's postings itself. Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from portal import idempotency, ledger
from portal.cards import errors as card_errors
from portal.cards import loss
from portal.cards.models import Card
from portal.chips import loads
from portal.chips.models import LoadRequest
from portal.chips.virtual import VirtualReader
from portal.clock import business_date, business_day_bounds
from portal.customers.models import Customer
from portal.funds import services as funds
from portal.funds.plan import PlanRejected, RawLine
from portal.points import services as points
from portal.points.models import PointsRule
from portal.purchases import offline, refunds
from portal.purchases.authorization import AuthorizationError, PurchaseRequest, authorize
from portal.purchases.models import Purchase
from portal.queries import labels
from portal.queries.filters import add_months
from portal.reference.models import Product
from portal.stations.models import Terminal
from portal.stations.terminals import create_terminal
from tests import builders
from tests.conftest import _wipe
from tests.web import figures as f
from tests.web.conftest import signed_in

#: The worlds start a week before a month ends, so that months, statements and "this month" differ.
START = datetime(2026, 2, 23, 2, 0, tzinfo=UTC)
#: Worlds per run and per rollup setting: each is ~100 page views and downloads, a few seconds on
#: SQLite and more on PostgreSQL, so the test stays under a minute on each (TIE_OUT_EXAMPLES=50 for
#: a long soak).
EXAMPLES = int(os.environ.get("TIE_OUT_EXAMPLES") or (2 if os.environ.get("TEST_DATABASE_URL") else 4))
ACCOUNT_CODES = ("deposit", "allocation", "collection", "load", "replacement", "reversal")
POINTS_CODES = ("points_earn", "points_redeem", "points_expire", "replacement", "reversal")
GROUPS = ("day", "month", "card", "driver", "vehicle", "product", "station", "region")
POINT_GROUPS = ("day", "month", "card")
#: Fen per litre, and the millilitres bought in steps of an exact number of fen (40 ml of 92 is 30
#: fen, 50 ml of -10 is 34 fen): two prices, so averages over a mix are not whole prices.
PRICES = {"92": 750, "-10": 680}
STEPS = {"92": 40, "-10": 50}
#: The products' names in each language: exports show them as the pages do ("-10#柴油", no quote).
PRODUCT_NAMES = {"zh_CN": {"92#汽油", "-10#柴油"}, "en": {"92# gasoline", "-10# diesel"}}
#: How the pages name a load's states (the chip pages' words; msgids of the catalog).
LOAD_STATES = {"waiting": "waiting", "loaded": "on the chip", "cancelled": "cancelled", "expired": "expired"}

OPERATIONS = (
    "deposit", "allocate", "collect", "request_load", "write_load", "cancel_load", "expire_loads",
    "buy_online", "buy_offline", "refund", "redeem", "expire_points", "report_loss", "replace",
)  # fmt: skip
#: Business refusals an operation may meet in a random world (nothing moves then).
REFUSED = (
    funds.FundsError, PlanRejected, loads.LoadError, AuthorizationError, points.PointsError,
    ledger.LedgerError, card_errors.CardError,
)  # fmt: skip

steps = st.lists(
    st.tuples(
        st.sampled_from(OPERATIONS),
        st.integers(0, 5),
        st.integers(1, 900),
        st.integers(1, 40),
    ),
    min_size=6,
    max_size=22,
)


class World:
    """One fleet (3 sub-cards, 2 on the driver), a station with a terminal, and the operations."""

    def __init__(self, db, clock):
        self.db, self.clock = db, clock
        self.seq = 0
        db(self._build)

    def _build(self, s):
        now = self.clock.now()
        region = builders.create_region(s, "11")
        builders.create_product(s, "92")
        s.add(Product(code="-10", kind="diesel", name_zh="-10#柴油", name_en="-10# diesel"))
        s.flush()
        station = builders.create_station(s, "ST110001", region, name="北京朝阳路加油站", prices=PRICES)
        customer = builders.create_customer(s, region, name="北京快运有限公司", credit_code="91110000000000001X")
        driver = builders.create_driver(s, customer, "张三")
        vehicle = builders.create_vehicle(s, customer, "京A12345", tank_ml=900_000)
        builders.create_card(s, customer, role="main")
        for i in range(3):
            on_driver = {"driver_id": driver.id, "vehicle_id": vehicle.id} if i < 2 else {}
            builders.create_card(s, customer, **on_driver)
        s.add(PointsRule(product_kind="gasoline", step_fen=100, points_per_step=5))
        terminal, _key = create_terminal(s, station, "pump 1", now=now)
        admin = builders.create_user(s, "admin", "admin", now, customer_id=customer.id)
        builders.create_user(s, "driver", "driver", now, customer_id=customer.id, driver_id=driver.id)
        self.customer_id, self.driver_id, self.admin_id = customer.id, driver.id, admin.id
        self.terminal_id, self.station_code = terminal.id, station.code

    # -- helpers ----------------------------------------------------------------------------------
    def key(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def cards(self, s, *statuses):
        query = s.query(Card).filter(Card.customer_id == self.customer_id, Card.role == "sub")
        if statuses:
            query = query.filter(Card.status.in_(statuses))
        return query.order_by(Card.id).all()

    def pick(self, rows, index):
        return rows[index % len(rows)] if rows else None

    @staticmethod
    def share(available: int, amount: int) -> int:
        """A tenth to all of what is available, by the drawn amount (so that most actions can go through)."""
        return max(available, 0) * (1 + amount % 10) // 10

    def seed(self) -> None:
        """Money on every card to start from: a deposit, an allocation and a load written to each chip."""
        self.run(("deposit", 0, 100, 1))
        for index in range(3):
            self.run(("allocate", index, 2, 1))
            self.run(("request_load", index, 4, 1))
            self.run(("write_load", 0, 0, 1))

    def run(self, step) -> None:
        name, index, amount, hours = step
        self.clock.advance(timedelta(hours=hours))
        try:
            self.db(lambda s: getattr(self, name)(s, index, amount, self.clock.now()))
        except REFUSED as refused:
            # Refused as a user would be: the action's transaction rolled back, nothing moved.
            event(f"{name} refused ({type(refused).__name__})")
        else:
            event(f"{name} done")

    # -- the operations (each one user action, committed by `db`) --------------------------------
    def deposit(self, s, index, amount, now):
        customer = s.get(Customer, self.customer_id)
        funds.record_deposit(s, key=self.key("dep"), customer=customer, amount=amount * 10_000,
                             bank_reference=self.key("bank"), memo="", actor_id=self.admin_id, now=now)  # fmt: skip

    def _batch(self, s, kind, card, fen, now):
        text = f"{fen // 100}.{fen % 100:02d}"
        batch = funds.prepare_batch(s, customer_id=self.customer_id, kind=kind, actor_id=self.admin_id, now=now,
                                    lines=[RawLine(1, card.number, text)])  # fmt: skip
        funds.confirm_batch(s, batch, actor_id=self.admin_id, now=now)

    def allocate(self, s, index, amount, now):
        card = self.pick(self.cards(s, "active"), index)
        available = ledger.customer_balances(s, self.customer_id).unit.available
        self._batch(s, "allocation", card, self.share(available, amount), now)

    def collect(self, s, index, amount, now):
        card = self.pick(self.cards(s, "active"), index)
        available = ledger.card_balances(s, card.id).reserve.available
        self._batch(s, "collection", card, self.share(available, amount), now)

    def request_load(self, s, index, amount, now):
        card = self.pick(self.cards(s, "active"), index)
        if card is not None:
            available = ledger.card_balances(s, card.id).reserve.available
            loads.request_load(s, load_id=self.key("load"), card=card, amount=self.share(available, amount),
                               actor_id=self.admin_id, now=now)  # fmt: skip

    def _pending_load(self, s, index):
        rows = s.query(LoadRequest).filter_by(customer_id=self.customer_id, status="pending")
        return self.pick(rows.order_by(LoadRequest.requested_at, LoadRequest.id).all(), index)

    def write_load(self, s, index, amount, now):
        load = self._pending_load(s, index)
        if load is not None:
            loads.write_load(s, VirtualReader(s, now=now), load, now=now, actor_id=self.admin_id)

    def cancel_load(self, s, index, amount, now):
        load = self._pending_load(s, index)
        if load is not None:
            loads.cancel_load(s, load, now=now, actor_id=self.admin_id)

    def expire_loads(self, s, index, amount, now):
        self.clock.advance(loads.DEFAULT_LOAD_EXPIRY)
        loads.expire_loads(s, now=self.clock.now())

    @staticmethod
    def product(amount) -> str:
        return ("92", "-10")[amount // 10 % 2]

    def litres(self, s, card, amount, product) -> int:
        """Millilitres of a product worth a share of the card's purse, in steps of an exact fen amount."""
        step_fen = STEPS[product] * PRICES[product] // 1000
        return max(1, self.share(ledger.card_balances(s, card.id).purse.available, amount) // step_fen) * STEPS[product]

    def buy_online(self, s, index, amount, now):
        card = self.pick(self.cards(s), index)
        product = self.product(amount)
        litres = self.litres(s, card, amount, product)
        terminal = s.get(Terminal, self.terminal_id)
        price = PRICES[product]
        request = PurchaseRequest(card.number, product, litres, price, litres * price // 1000, self.seq + 10_000, now)
        self.seq += 1
        authorize(s, terminal, request, now=now)

    def buy_offline(self, s, index, amount, now):
        card = self.pick(self.cards(s, "active", "lost"), index)
        self.seq += 1
        product = self.product(amount)
        litres = self.litres(s, card, amount, product)
        offline.record_offline_purchase(s, card, chip_counter=self.seq, station_code=self.station_code,
                                        product_code=product, litres_ml=litres,
                                        amount_fen=litres * PRICES[product] // 1000, at=now, now=now)  # fmt: skip

    def refund(self, s, index, amount, now):
        refunded = s.query(Purchase.refund_of_id).filter(Purchase.refund_of_id.is_not(None))
        candidates = (
            s.query(Purchase)
            .filter(Purchase.status == "approved", Purchase.kind == "purchase", Purchase.terminal_id.is_not(None))
            .filter(Purchase.id.not_in(refunded))
            .order_by(Purchase.id)
            .all()
        )
        original = self.pick(candidates, index)
        if original is not None:
            self.seq += 1
            terminal = s.get(Terminal, self.terminal_id)
            refunds.refund(s, terminal, purchase_id=original.id, terminal_seq=self.seq + 10_000, now=now)

    def redeem(self, s, index, amount, now):
        card = self.pick(self.cards(s, "active"), index)
        transfer_id = self.key("redeem")
        idempotency.claim(s, points.REDEMPTION, transfer_id)
        request = points.RedeemRequest(card.id, self.customer_id, 1000 * (1 + index % 2), "portal", transfer_id)
        points.redeem(s, request, now=now)

    def expire_points(self, s, index, amount, now):
        points.expire_points(s, now=now, days=1 + index)

    def report_loss(self, s, index, amount, now):
        card = self.pick(self.cards(s, "active"), index)
        if card is not None and len(self.cards(s, "active")) > 1:
            policy = loss.LossPolicy(effect=timedelta(hours=1), replacement_wait=timedelta(0))
            loss.report_loss(s, card, reason="lost", actor_id=self.admin_id, now=now, policy=policy)

    def replace(self, s, index, amount, now):
        report = self.pick(loss.customer_reports(s, self.customer_id), index)
        if report is not None and report.status == "open":
            loss.replace_card(s, report, actor_id=self.admin_id, now=now, password_confirmed=True,
                              idempotency_key=self.key("replace"))  # fmt: skip


# --- what a user sees, against the books ------------------------------------------------------


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def download(client, path: str) -> bytes:
    response = client.get(path)
    body = response.get_data()
    response.close()
    assert response.status_code == 200, (path, response.status_code)
    return body


def local_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The filter's [first day, day after the last) as naive UTC instants, as the journal stores them."""
    return business_day_bounds(first)[0].replace(tzinfo=None), business_day_bounds(last)[1].replace(tzinfo=None)


def chosen_range(today: date, cut_start: int, cut_end: int) -> tuple[date, date]:
    """A date range Hypothesis picks within the world's life (from a few days before the first
    movement to today): up to half of it cut from the start and a quarter from the end, in percent,
    so that most ranges hold activity and some split a month or cut a load from its write."""
    base = START.date() - timedelta(days=3)
    days = (today - base).days
    return base + timedelta(days=days * cut_start // 200), today - timedelta(days=days * cut_end // 400)


class Check:
    """Compares the figures of one user's pages with the books; collects every difference."""

    def __init__(self, client, books: f.Books, *, customer_id: int, card_ids, today: date, lang: str, span):
        self.client, self.books, self.today, self.lang = client, books, today, lang
        self.card_ids = card_ids if card_ids is not None else set(books.cards)
        self.whole = card_ids is None
        kinds = {"money": ("unit", "reserve", "purse"), "points": ("points",)}
        self.money = books.accounts_of(customer_id, kinds["money"], card_ids)
        self.points = books.accounts_of(customer_id, kinds["points"], card_ids)
        self.reserves = books.accounts_of(customer_id, ("reserve",), card_ids, sub_cards_only=True)
        self.purses = books.accounts_of(customer_id, ("purse",), card_ids, sub_cards_only=True)
        self.card_points = books.accounts_of(customer_id, ("points",), card_ids, sub_cards_only=True)
        self.unit = books.accounts_of(customer_id, ("unit",))
        first, last = span
        self.range = f"preset=custom&start={first.isoformat()}&end={last.isoformat()}"
        self.start, self.end = local_range(first, last)
        self.differences: list[str] = []

    def same(self, what: str, shown, expected) -> None:
        if shown != expected:
            self.differences.append(f"[{self.lang}] {what}: shown {shown!r}, books {expected!r}")

    def label(self, table, code) -> str:
        from flask_babel import force_locale, gettext

        with self.client.application.test_request_context(), force_locale(self.lang):
            return str(table[code]) if table is not LOAD_STATES else gettext(table[code])

    def text(self, msgid: str) -> str:
        from flask_babel import force_locale, gettext

        with self.client.application.test_request_context(), force_locale(self.lang):
            return gettext(msgid)

    # -- pages ---------------------------------------------------------------------------------
    def home(self):
        html = page(self.client, "/")
        b = self.books
        if self.whole:
            self.same("home unit account", f.fen(f.by_testid(html, "home-unit")), b.balance(self.unit))
        self.same("home card reserves", f.fen(f.by_testid(html, "home-reserves")), b.balance(self.reserves))
        self.same("home chip purses", f.fen(f.by_testid(html, "home-purses")), b.balance(self.purses))
        self.same("home loads pending", f.fen(f.by_testid(html, "home-pending")), b.held(self.reserves))
        self.same("home points", f.number(f.by_testid(html, "home-points")), b.balance(self.points))
        month = business_day_bounds(self.today.replace(day=1))[0].replace(tzinfo=None)
        rows, _purchases, amount = b.sales(self.purses, month)
        self.same("home this month amount", f.fen(f.by_testid(html, "home-month-amount")), amount)
        self.same("home this month count", f.number(f.by_testid(html, "home-month-count")), rows)
        self._recent(html)

    def _recent(self, html):
        """Recent activity lists each movement once: the newest five sales and the newest five
        movements (a load with its state), in whatever order the page puts them."""
        items = f.cells(f.section(html, "home-recent"), "li")
        since = business_day_bounds(add_months(self.today.replace(day=1), -11))[0].replace(tzinfo=None)
        newest = functools.partial(sorted, key=lambda t: (t.at, t.id), reverse=True)
        sold = newest(self.books.flows(self.purses, ("purchase", "refund"), since))[:5]
        moved = newest(self.books.flows(self.money, ACCOUNT_CODES, since, kinds=("posted", "pending")))[:5]
        sale = {"purchase": self.text("Purchase"), "refund": self.text("Refund")}
        expected = [(sale[t.code], t.amount if t.code == "purchase" else -t.amount, "") for t in sold]
        for t in moved:
            state = self.books.state(t)
            shown_state = self.label(LOAD_STATES, state) if state != "posted" else ""
            expected.append((self.label(labels.TRANSFER_CODES, t.code), t.amount, shown_state))
        shown = []
        for item in items:
            parts = [part.strip() for part in item.split(" · ")]
            name = parts[1][: parts[1].index("¥")].strip().removesuffix("-").strip()
            is_sale = name in sale.values()
            shown.append((name, f.fen(parts[1]), parts[2] if len(parts) > 2 and not is_sale else ""))
        self.same("home recent activity", sorted(shown), sorted(expected))

    def balances(self):
        html = page(self.client, "/queries/balances")
        b = self.books
        if self.whole:
            self.same("balances unit account", f.fen(f.by_testid(html, "unit-balance")), b.balance(self.unit))
        if self.books.cards:
            reserve, purse, pending, pts = f.total_row(html)
            self.same("balances reserves", f.fen(reserve), b.balance(self.reserves))
            self.same("balances purses", f.fen(purse), b.balance(self.purses))
            self.same("balances pending", f.fen(pending), b.held(self.reserves))
            self.same("balances points", f.number(pts), b.balance(self.card_points))

    def account_transactions(self):
        html = page(self.client, f"/queries/account-transactions?{self.range}")
        totals = self.books.movements(self.money, ACCOUNT_CODES, self.start, self.end)
        expected = {
            self.label(labels.TRANSFER_CODES, code): (totals[(code, "count")], totals[(code, "amount")])
            for code in ACCOUNT_CODES
            if totals[(code, "count")]
        }
        states = self.books.load_states(self.money, self.start, self.end)
        load = self.label(labels.TRANSFER_CODES, "load")
        for state in ("waiting", "loaded", "cancelled", "expired"):
            if states[(state, "count")]:
                name = f"{load} · {self.label(LOAD_STATES, state)}"
                expected[name] = (states[(state, "count")], states[(state, "amount")])
        self.same("account transactions totals", f.counted_tiles(html), expected)
        moved = sum(v for (_code, what), v in totals.items() if what == "amount")
        count = sum(v for (_c, w), v in totals.items() if w == "count")
        for fmt in ("csv", "xlsx"):
            rows, add = self.export(f"/queries/account-transactions/export.{fmt}?{self.range}", fmt)
            self.same(f"account transactions {fmt} amount", add(rows, 5), moved)
            self.same(f"account transactions {fmt} rows", len(rows), count)

    def export(self, path: str, fmt: str):
        """The rows of a CSV or XLSX download, and the function summing one of its columns."""
        body = download(self.client, path)
        return (f.csv_rows(body), f.csv_sum) if fmt == "csv" else (f.xlsx_rows(body), f.xlsx_sum)

    def purchases(self):
        html = page(self.client, f"/queries/purchases?{self.range}")
        rows, _purchases, amount = self.books.sales(self.purses, self.start, self.end)
        count, net, litres_tile, pts = (figure for figure, _label in f.tiles(html))
        earned = self.earned()
        self.same("purchases count", f.number(count), rows)
        self.same("purchases net amount", f.fen(net), amount)
        self.same("purchases points", f.number(pts), earned)
        litres = self.books.litres(self.card_ids, self.start, self.end)
        self.same("purchases litres", f.hundredths_of_litre(litres_tile), litres)
        for fmt in ("csv", "xlsx"):
            cells, add = self.export(f"/queries/purchases/export.{fmt}?{self.range}", fmt)
            self.same(f"purchases {fmt} rows", len(cells), rows)
            self.same(f"purchases {fmt} amount", add(cells, 10), amount)
            self.same(f"purchases {fmt} litres", add(cells, 8), litres)
            self.same(f"purchases {fmt} points", add(cells, 11, 1), earned)

    def earned(self) -> int:
        """Points purchases earned less those refunds took back, in the range (the card side)."""
        moved = self.books.flows(self.card_points, ("points_earn", "reversal"), self.start, self.end)
        return self.books.signed(self.card_points, moved)

    def statistics(self):
        _rows, purchases, amount = self.books.sales(self.purses, self.start, self.end)
        litres = self.books.litres(self.card_ids, self.start, self.end)
        earned = self.earned()
        average = f.average_price(amount, litres)
        for group in GROUPS:
            query = f"{self.range}&group={group}"
            html = page(self.client, f"/statistics/transactions?{query}")
            if 'data-testid="total"' not in html:
                self.same(f"statistics by {group}: no total row", (purchases, amount, litres), (0, 0, 0))
                continue
            count, net, shown_litres, shown_average, pts, *_rest = f.total_row(html)
            self.same(f"statistics by {group}: purchases", f.number(count), purchases)
            self.same(f"statistics by {group}: amount", f.fen(net), amount)
            self.same(f"statistics by {group}: litres", f.hundredths_of_litre(shown_litres), litres)
            self.same(f"statistics by {group}: average price", f.fen(shown_average) if "¥" in shown_average else None,
                      average)  # fmt: skip
            self.same(f"statistics by {group}: points", f.number(pts), earned)
            for fmt in ("csv", "xlsx"):
                cells, add = self.export(f"/statistics/transactions/export.{fmt}?{query}", fmt)
                self.same(f"statistics by {group} {fmt}: purchases", add(cells, 1, 1), purchases)
                self.same(f"statistics by {group} {fmt}: amount", add(cells, 2), amount)
                self.same(f"statistics by {group} {fmt}: litres", add(cells, 3), litres)
                self.same(f"statistics by {group} {fmt}: points", add(cells, 5, 1), earned)
                if group == "product":  # the CSV quotes a leading "-" against formulas; the XLSX need not
                    names = {row[0].removeprefix("'") if fmt == "csv" else row[0] for row in cells}
                    self.same(f"statistics by product {fmt}: names", names - PRODUCT_NAMES[self.lang], set())
                read = f.csv_number if fmt == "csv" else f.xlsx_number
                for row in cells:  # each row's average price is its amount / its litres
                    shown = [read(row[2]), read(row[3]), read(row[4])]
                    expected = shown[:2] + [f.average_price(shown[0] or 0, shown[1] or 0)]
                    self.same(f"statistics by {group} {fmt}: average price of {row[0]}", shown, expected)

    def points_query(self):
        b = self.books
        html = page(self.client, f"/queries/points?{self.range}")
        self.same("points now", f.number(f.by_testid(html, "points-balance")), b.balance(self.points))
        totals = b.movements(self.points, POINTS_CODES, self.start, self.end)
        expected = {
            self.label(labels.TRANSFER_CODES, code): (totals[(code, "count")], totals[(code, "amount")])
            for code in POINTS_CODES
            if totals[(code, "count")]
        }
        self.same("points transactions totals", f.counted_tiles(html), expected)
        moved = b.flows(self.points, POINTS_CODES, self.start, self.end)
        for fmt in ("csv", "xlsx"):
            rows, add = self.export(f"/queries/points/export.{fmt}?{self.range}", fmt)
            self.same(f"points transactions {fmt} rows", len(rows), len(moved))
            self.same(f"points transactions {fmt} points", add(rows, 3, 1), b.signed(self.points, moved))

    def points_statistics(self):
        """Every column (earned, taken back, redeemed, expired, carried over, net) of every grouping,
        on the page and in both downloads, against the journal's rows in the range."""
        b = self.books
        moved = b.flows(self.points, POINTS_CODES, self.start, self.end)
        # (code, sign): taken back, redeemed and expired are shown as positive amounts taken away.
        columns = (("points_earn", 1), ("reversal", -1), ("points_redeem", -1), ("points_expire", -1),
                   ("replacement", 1))  # fmt: skip
        expected = [sign * b.signed(self.points, [t for t in moved if t.code == code]) for code, sign in columns]
        expected.append(b.signed(self.points, moved))
        names = ("earned", "taken back", "redeemed", "expired", "carried", "net")
        for group in POINT_GROUPS:
            query = f"{self.range}&group={group}"
            html = page(self.client, f"/statistics/points?{query}")
            if 'data-testid="total"' not in html:
                self.same(f"points statistics by {group}: no total row", expected, [0] * 6)
                continue
            shown = [f.number(cell) for cell in f.total_row(html)]
            self.same(f"points statistics by {group}: {names}", shown, expected)
            for fmt in ("csv", "xlsx"):
                cells, add = self.export(f"/statistics/points/export.{fmt}?{query}", fmt)
                sums = [add(cells, column, 1) for column in range(1, 7)]
                self.same(f"points statistics by {group} {fmt}: {names}", sums, expected)

    def statements(self):
        """Every month from the first movement to today: opening, in, out, closing of the unit account
        (admin) or of each card's reserve and purse (driver: the cards they hold)."""
        month = START.date().replace(day=1)
        while month <= self.today:
            start = business_day_bounds(month)[0].replace(tzinfo=None)
            end = business_day_bounds(add_months(month, 1))[0].replace(tzinfo=None)
            if self.whole:
                self._statement(f"/queries/statements?month={month:%Y-%m}", "unit", self.unit, start, end)
            month = add_months(month, 1)

    def card_statements(self, numbers: dict[str, dict[str, set[int]]]):
        """Each of the driver's cards, every month from the first movement to today."""
        month = START.date().replace(day=1)
        while month <= self.today:
            start = business_day_bounds(month)[0].replace(tzinfo=None)
            end = business_day_bounds(add_months(month, 1))[0].replace(tzinfo=None)
            for number, accounts in numbers.items():
                for kind, ids in accounts.items():
                    self._statement(f"/queries/statements?month={month:%Y-%m}&card={number}", kind, ids, start, end)
            month = add_months(month, 1)

    def _statement(self, path, kind, ids, start, end):
        html = page(self.client, path)
        opening, money_in, money_out, closing = (
            f.fen(v) for v in f.cells(f.section(html, f"statement-{kind}"), "dd")[:4]
        )
        moved = self.books.flows(ids, f.MONEY_CODES, start, end)
        signed = [t.amount * ((t.credit in ids) - (t.debit in ids)) for t in moved]
        self.same(f"{path} {kind} opening", opening, self.books.balance(ids, start))
        self.same(f"{path} {kind} in", money_in, sum(v for v in signed if v > 0))
        self.same(f"{path} {kind} out", money_out, -sum(v for v in signed if v < 0))
        self.same(f"{path} {kind} closing", closing, self.books.balance(ids, end))


def card_accounts(db, world: World, books: f.Books, card_ids) -> dict[str, dict[str, set[int]]]:
    """{card number: {"reserve": ids, "purse": ids}} of the driver's cards, for their statements."""
    numbers = db(lambda s: {c.number: c.id for c in world.cards(s) if c.id in card_ids})
    kinds = ("reserve", "purse")
    return {n: {k: books.accounts_of(world.customer_id, (k,), {i}) for k in kinds} for n, i in numbers.items()}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("TIE_OUT_DERANDOMIZE")),
    # Each example is a whole world read through ~60 pages: report the failing one as it is (every
    # difference is listed) rather than spend minutes shrinking it.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.parametrize("rollup", [False, True], ids=["from purchases", "from daily totals"])
@given(
    operations=steps, lang=st.sampled_from(["zh_CN", "en"]), span=st.tuples(st.integers(0, 100), st.integers(0, 100))
)
def test_every_figure_shown_ties_out_to_the_ledger(app, db, clock, db_engine, rollup, operations, lang, span):
    """With PURCHASE_ROLLUP off (tests' default) and on (production's: statistics and purchase totals
    read the daily totals, which the purchase services keep as they book each purchase)."""
    app.config["PURCHASE_ROLLUP"] = rollup
    _wipe(db_engine)
    clock.set(START)
    world = World(db, clock)
    world.seed()
    note(f"operations: {operations}")
    for step in operations:
        world.run(step)
    today = business_date(clock.now())
    span = chosen_range(today, *span)
    note(f"range: {span[0]} to {span[1]}")
    books = db(f.Books)
    driver_cards = {c.id for c in books.cards.values() if c.driver_id == world.driver_id}
    differences = []
    for username, card_ids in (("admin", None), ("driver", driver_cards)):
        client = app.test_client()
        client.set_cookie("lang", lang)
        signed_in(client, username)
        check = Check(client, books, customer_id=world.customer_id, card_ids=card_ids, today=today, lang=lang,
                      span=span)  # fmt: skip
        pages = [check.home, check.balances, check.account_transactions, check.purchases, check.points_query,
                 check.statements]  # fmt: skip
        if card_ids is None:  # statistics are the fleet admin's
            pages += [check.statistics, check.points_statistics]
        else:
            pages.append(functools.partial(check.card_statements, card_accounts(db, world, books, card_ids)))
        for read in pages:
            try:
                read()
            except AssertionError as unreadable:  # a figure missing from its page is a difference too
                check.differences.append(f"{getattr(read, '__name__', 'page')}: {unreadable}")
        differences += [f"{username}: {d}" for d in check.differences]
    assert not differences, "\n".join(differences)
