"""demo-data: a realistic world, built deterministically, safe to run twice, with working logins."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.alerts.models import Alert
from portal.auth.models import User
from portal.auth.policy import PasswordPolicy
from portal.auth.services import authenticate
from portal.cards.models import Card
from portal.cards.numbers import card_number, is_valid_card_number, next_card_number
from portal.chips.models import LoadRequest
from portal.customers.models import Customer
from portal.db import Base, make_engine, make_sessionmaker
from portal.demo import DEMO_PASSWORD, DemoConflict, DemoOptions, build_demo
from portal.demo.names import is_valid_credit_code
from portal.drivers.models import Driver, Vehicle
from portal.funds.models import Deposit, FundsBatch, FundsBatchLine
from portal.ledger.models import Transfer
from portal.money import fen_for_litres
from portal.purchases.models import Purchase
from portal.schema import upgrade
from tests.conftest import T0
from tests.web.conftest import login as sign_in

SMALL = ["--customers", "2", "--cards", "3", "--months", "2"]
OPTIONS = DemoOptions(customers=2, cards=3, months=2)


def _row_counts(session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables
    }


def _snapshot(session) -> dict:
    """What a seed decides: identities, numbers, plates and every money movement."""
    return {
        "customers": sorted(session.execute(select(Customer.name, Customer.credit_code)).all()),
        "cards": sorted(session.scalars(select(Card.number))),
        "plates": sorted(session.scalars(select(Vehicle.plate))),
        "users": sorted(session.execute(select(User.username, User.role)).all()),
        "transfers": sorted(
            session.execute(select(Transfer.id, Transfer.amount, Transfer.code, Transfer.created_at)).all()
        ),
    }


def test_cli_builds_once_and_second_run_changes_nothing(app, runner):
    first = runner.invoke(args=["demo-data", *SMALL])
    assert first.exit_code == 0, first.output
    assert "Built 2 demo customer(s)" in first.output
    from portal.extensions import db

    with app.app_context():
        counts = _row_counts(db.session)
    assert counts["customers"] == 2
    assert counts["cards"] == 2 * (1 + 3)
    assert counts["regions"] == 31
    assert counts["purchases"] > 0

    second = runner.invoke(args=["demo-data", *SMALL])
    assert second.exit_code == 0, second.output
    assert "already exists: nothing added" in second.output
    with app.app_context():
        assert _row_counts(db.session) == counts

    # Both runs print the same table of logins.
    for output in (first.output, second.output):
        for username in (
            "fleet1_admin",
            "fleet1_admin2",
            "fleet1_driver1",
            "fleet2_admin",
            "staff_beijing",
            "sysadmin",
        ):
            assert re.search(rf"^\s+{username}\s+{re.escape(DEMO_PASSWORD)}\s", output, re.M), username
        assert "staff_guangdong" in output


def test_if_empty_leaves_a_database_with_data_alone(app, runner):
    assert runner.invoke(args=["demo-data", *SMALL]).exit_code == 0
    from portal.extensions import db

    with app.app_context():
        before = _row_counts(db.session)
    result = runner.invoke(args=["demo-data", "--if-empty", "--customers", "5"])
    assert result.exit_code == 0, result.output
    assert "already has data" in result.output
    assert "fleet2_admin" in result.output and "fleet3_admin" not in result.output
    with app.app_context():
        assert _row_counts(db.session) == before


def test_another_seed_on_an_existing_world_is_refused_cleanly(app, runner):
    assert runner.invoke(args=["demo-data", *SMALL]).exit_code == 0
    from portal.extensions import db

    with app.app_context():
        before = _row_counts(db.session)
    result = runner.invoke(args=["demo-data", *SMALL, "--seed", "7"])
    assert result.exit_code == 1
    assert "another --seed" in result.output
    with app.app_context():
        assert _row_counts(db.session) == before


def test_every_demo_login_signs_in(session):
    result = build_demo(session, OPTIONS, now=T0, rounds=4)
    session.commit()
    assert len(result.logins) == 4 + 3 + 2 + 1  # customer 1 (2 admins, 2 drivers), customer 2, 2 staff, sysadmin
    for login in result.logins:
        user = authenticate(session, login.username, login.password, now=T0, rounds=4)
        assert user.role == login.role
        # Usable at once: no forced change, not expired under the default password policy.
        assert not user.must_change_password
        assert not PasswordPolicy().expired(user.password_changed_at, T0)
        # And it passes the sign-in feature's password rules.
        numbers = session.scalars(select(Card.number).where(Card.customer_id == user.customer_id))
        assert PasswordPolicy().problems(login.password, username=login.username, card_numbers=numbers) == []
        with pytest.raises(Exception):  # noqa: B017  (any SignInError subclass)
            authenticate(session, login.username, login.password + "x", now=T0, rounds=4)
    session.rollback()
    with pytest.raises(DemoConflict):  # same user names, another seed
        build_demo(session, DemoOptions(customers=2, cards=3, months=2, seed=99), now=T0, rounds=4)
    session.rollback()


def test_world_is_realistic_and_consistent(session):
    build_demo(session, OPTIONS, now=T0, rounds=4)
    session.commit()
    customers = list(session.scalars(select(Customer)))
    assert len({c.region_id for c in customers}) == 2  # different regions
    for customer in customers:
        assert is_valid_credit_code(customer.credit_code)
        assert customer.name.endswith("有限公司")
        cards = list(session.scalars(select(Card).where(Card.customer_id == customer.id)))
        assert [c.role for c in cards].count("main") == 1
        for card in cards:
            assert is_valid_card_number(card.number)
            assert card.expires_on > T0.date()
        for vehicle in session.scalars(select(Vehicle).where(Vehicle.customer_id == customer.id)):
            assert re.fullmatch(r"[\u4e00-\u9fff][A-Z][0-9A-HJ-NP-Z]{5}", vehicle.plate)
        assert session.scalar(select(func.count()).select_from(Driver).where(Driver.customer_id == customer.id)) >= 2
    # Card numbers count up per region: customer 1 (Beijing) has the main card, then 3 sub-cards.
    beijing = session.scalars(select(Card.number).where(Card.number.like("903011%")).order_by(Card.id)).all()
    assert beijing == [card_number("11", n) for n in range(1, 5)]
    assert next_card_number(session, "11") == card_number("11", 5)
    assert next_card_number(session, "65") == card_number("65", 1)
    staff = list(session.scalars(select(User).where(User.role == "staff")))
    assert {u.region_id for u in staff} == {c.region_id for c in customers}

    # Purchases: litres x price, rounded to the fen, never in the future, nearly all in the customer's
    # region (demo traffic sends a few far away on purpose, for the travel alerts).
    purchases = list(session.scalars(select(Purchase)))
    for purchase in purchases:
        assert purchase.amount_fen == fen_for_litres(purchase.litres_ml, purchase.unit_price_fen)
        assert purchase.at < T0
    at_home = [p for p in purchases if p.region_id == session.get(Customer, p.customer_id).region_id]
    assert len(at_home) >= 0.9 * len(purchases)


def test_purchases_come_through_purchase_authorization(session):
    """Approvals, declines with reasons, points and alerts all from the terminals' path."""
    result = build_demo(session, OPTIONS, now=T0, rounds=4)
    session.commit()
    purchases = list(session.scalars(select(Purchase)))
    assert purchases and all(p.terminal_id is not None and p.terminal_seq is not None for p in purchases)
    approved = [p for p in purchases if p.status == "approved"]
    declined = [p for p in purchases if p.status == "declined"]
    assert len(approved) == result.activity.purchases and len(declined) == result.activity.declined > 0
    assert all(p.decline_code for p in declined)
    # Each approval moved the money and earned its points on the ledger, as at a real pump.
    codes = dict(session.execute(select(Transfer.id, Transfer.code).where(Transfer.id.like("pos:%"))).all())
    for p in approved:
        assert codes[p.transfer_id] == "purchase"
        if p.points:
            assert codes[f"{p.transfer_id}:pts"] == "points_earn"
    assert sum(p.points for p in approved) == result.activity.points_earned > 0
    assert session.scalar(select(func.count()).select_from(Alert)) > 0


def test_a_database_with_other_customers_cards_is_refused(session):
    """Demo traffic covers every active card: it must not buy fuel on cards the demo did not make."""
    from tests.builders import station_setup

    station_setup(session, now=T0)
    session.commit()
    before = _row_counts(session)
    with pytest.raises(DemoConflict, match="empty database"):
        build_demo(session, OPTIONS, now=T0, rounds=4)
    session.rollback()
    assert _row_counts(session) == before


def test_books_balance_and_nothing_is_overdrawn(session):
    result = build_demo(session, OPTIONS, now=T0, rounds=4)
    session.commit()
    report = ledger.verify(session)
    assert report.ok, report.problems
    assert result.activity.deposits == 2 * 2  # one a month per customer
    assert result.activity.purchases > 10 and result.activity.loads > 0 and result.activity.points_earned > 0
    for account in session.scalars(select(ledger.Account).where(ledger.Account.customer_id.is_not(None))):
        assert ledger.available(account) >= 0
    # Made through the funds and chip services, so their pages have rows to show.
    assert session.scalar(select(func.count()).select_from(Deposit)) == result.activity.deposits
    assert session.scalar(select(func.count()).select_from(FundsBatchLine)) == result.activity.allocations
    assert set(session.scalars(select(FundsBatch.status))) == {"posted"}
    loads = list(session.scalars(select(LoadRequest)))
    assert len(loads) == result.activity.loads and {load.status for load in loads} == {"loaded"}
    # Fills are spread over the day in Shanghai (a few at night on purpose); loads in the evening.
    fills = [(t.hour + 8) % 24 for t in session.scalars(select(Transfer.created_at).where(Transfer.code == "purchase"))]
    assert sum(7 <= hour <= 21 for hour in fills) >= 0.9 * len(fills)
    assert len(set(fills)) > 5
    load_hours = {
        (t.hour + 8) % 24 for t in session.scalars(select(Transfer.created_at).where(Transfer.code == "load"))
    }
    assert load_hours == {22}


def test_same_seed_same_world(session, tmp_path):
    build_demo(session, OPTIONS, now=T0, rounds=4)
    session.commit()
    engine = make_engine("sqlite:///" + str(tmp_path / "again.db"))
    with engine.begin() as conn:
        upgrade(conn)
    other = make_sessionmaker(engine)()
    try:
        build_demo(other, OPTIONS, now=T0, rounds=4)
        other.commit()
        assert _snapshot(other) == _snapshot(session)
    finally:
        other.close()
        engine.dispose()


def test_demo_admin_reaches_the_home_page(runner, client):
    assert runner.invoke(args=["demo-data", *SMALL]).exit_code == 0
    response = sign_in(client, "fleet1_admin", DEMO_PASSWORD)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200, home.headers.get("Location")
