"""CARD_READER=none (what production uses until a hardware reader exists): the virtual reader's
"simulate purchase" does not exist, and no chip page pretends to read a chip."""

from __future__ import annotations

import pytest

from portal.chips.models import VirtualChip
from tests.builders import funds_customers
from tests.web.conftest import count, csrf_token, signed_in


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def test_without_the_virtual_reader_no_purchase_can_be_simulated(app, client, session, world):
    app.config["CARD_READER"] = "none"
    signed_in(client, "admin_a")
    token = csrf_token(client, "/funds/allocate")
    response = client.post(
        "/chips/simulate-purchase",
        data={"csrf_token": token, "card_id": world.a1, "amount": "30", "station_code": "ST110001"},
    )
    assert response.status_code == 501
    assert client.get(f"/chips/read?card={world.a1}").status_code == 501
    assert count(session, session.query(VirtualChip)) == 0
