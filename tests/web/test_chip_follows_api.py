"""The terminal API moves the virtual chip as a pump would (issue #12): an approved purchase debits
it, a refund credits it, so read-chip shows chip and host equal; with CARD_READER=none nothing is
touched; a chip the pump would refuse undoes the whole answer."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.cards.models import Card
from portal.chips.sync import compare_chip, sync_card
from portal.chips.virtual import VirtualReader
from portal.purchases.models import Purchase
from tests.builders import CARD_NUMBER, purse_balance, station_setup
from tests.conftest import T0


def body(**changes) -> dict:
    """A terminal's purchase of 40 l of 92 at 7.50 (300.00 yuan) on the world's card."""
    return {"card_number": CARD_NUMBER, "product_code": "92", "litres_ml": 40_000, "unit_price_fen": 750,
            "amount_fen": 30_000, "terminal_seq": 1, "at": T0.isoformat(), **changes}  # fmt: skip


def post(client, key, json, url="/api/terminal/v1/purchases"):
    return client.post(url, json=json, headers={"Authorization": f"Bearer {key}"})


def _world(app, *, written: bool = True):
    """A card holding 1,000.00 yuan; `written`: its chip was synced once (personalised)."""
    from portal.extensions import db

    with app.app_context():
        w = station_setup(db.session, now=T0, purse_fen=100_000)
        if written:
            sync_card(db.session, VirtualReader(db.session, now=T0), w.card, now=T0, actor_id=None)
        db.session.commit()
        return {"key": w.key, "card_id": w.card.id}


def _chip_and_host(app, world) -> tuple[int, int, set[str]]:
    from portal.extensions import db

    with app.app_context():
        card = db.session.get(Card, world["card_id"])
        chip = VirtualReader(db.session, now=T0).read(card.number)
        differs = {row.key for row in compare_chip(db.session, card, chip, now=T0) if row.differs}
        return chip.purse_balance, purse_balance(db.session, card), differs


def test_an_online_purchase_and_its_refund_move_the_chip(app, client):
    world = _world(app)
    response = post(client, world["key"], body())
    assert response.status_code == 200 and response.get_json()["approved"]
    assert _chip_and_host(app, world) == (70_000, 70_000, set())

    purchase_id = response.get_json()["purchase_id"]
    refunded = post(
        client, world["key"], {"purchase_id": purchase_id, "terminal_seq": 2}, url="/api/terminal/v1/refunds"
    )
    assert refunded.status_code == 200
    assert _chip_and_host(app, world) == (100_000, 100_000, set())

    # The terminal sends both again (it did not hear back): nothing moves twice.
    assert post(client, world["key"], body()).get_json()["replayed"]
    post(client, world["key"], {"purchase_id": purchase_id, "terminal_seq": 2}, url="/api/terminal/v1/refunds")
    assert _chip_and_host(app, world) == (100_000, 100_000, set())


def test_without_a_virtual_reader_no_chip_is_written(app, client):
    app.config["CARD_READER"] = "none"
    world = _world(app)
    assert post(client, world["key"], body()).status_code == 200
    chip, host, differs = _chip_and_host(app, world)
    assert (chip, host) == (100_000, 70_000) and "purse_balance" in differs


def test_a_chip_the_pump_refuses_undoes_the_answer(app, client):
    """Spent offline down to 100.00 (not uploaded yet): the host would approve 300.00, the chip
    cannot pay it; 409 chip_refused and nothing is booked."""
    from portal.extensions import db

    world = _world(app)
    with app.app_context():
        card = db.session.get(Card, world["card_id"])
        VirtualReader(db.session, now=T0).simulate_purchase(
            card.number, amount=90_000, at=T0, station_code="ST110001", product_code="92", litres_ml=120_000
        )
        db.session.commit()
    response = post(client, world["key"], body(language="en"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "chip_refused"
    with app.app_context():
        assert db.session.scalar(select(func.count(Purchase.id))) == 0
    assert _chip_and_host(app, world)[:2] == (10_000, 100_000)


def test_read_chip_names_online_and_offline_purchases_and_refunds(app, client):
    from portal.extensions import db
    from tests.builders import PASSWORD, create_user
    from tests.web.conftest import signed_in

    world = _world(app)
    with app.app_context():
        card = db.session.get(Card, world["card_id"])
        create_user(db.session, "fleet_admin", "admin", T0, customer_id=card.customer_id)
        VirtualReader(db.session, now=T0).simulate_purchase(
            card.number, amount=750, at=T0, station_code="ST110001", product_code="92", litres_ml=1_000
        )
        db.session.commit()
    purchase_id = post(client, world["key"], body()).get_json()["purchase_id"]
    post(client, world["key"], {"purchase_id": purchase_id, "terminal_seq": 2}, url="/api/terminal/v1/refunds")
    signed_in(client, "fleet_admin", PASSWORD)
    page = client.get(f"/chips/read?card={world['card_id']}").get_data(as_text=True)
    assert "脱机消费" in page and "联机消费" in page and "退款" in page
