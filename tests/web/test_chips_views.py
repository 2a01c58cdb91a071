"""Read chip, sync and load through the views; who may see and do what on every funds/chips route."""

import re

import pytest
from sqlalchemy import select

from portal import ledger
from portal.chips.models import LoadRequest, VirtualChip
from portal.funds import services
from portal.funds.plan import RawLine
from portal.reference.models import Station
from tests.builders import PASSWORD, funds_customers, purse_balance
from tests.web.conftest import count, csrf_token, peek, signed_in


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    lines = [RawLine(1, w.a1_number, "500"), RawLine(2, w.a2_number, "500")]
    batch = services.prepare_batch(session, customer_id=w.a, kind="allocation", lines=lines, actor_id=w.admin_a,
                                   now=clock.now())  # fmt: skip
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    w.ids["batch"] = batch.id
    session.commit()
    return w


def request_load(client, card_id, amount="100", password=PASSWORD):
    page = client.get("/chips/load").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    data = {"csrf_token": csrf_token(client, "/chips/load"), "key": key, "card_id": card_id, "amount": amount,
            "password": password}  # fmt: skip
    return client.post("/chips/load", data=data), data


def test_admin_loads_writes_and_the_driver_sees_funds_waiting(client, session, world):
    w = world
    signed_in(client, "admin_a")
    page = client.get("/chips/load").get_data(as_text=True)
    assert 'data-testid="virtual-reader"' in page
    assert request_load(client, w.a1, password="wrong")[0].status_code == 422
    assert request_load(client, w.a1, amount="500.01")[0].status_code == 422
    response, data = request_load(client, w.a1)
    assert response.status_code == 302
    assert client.post("/chips/load", data=data).status_code == 302  # double submit
    assert count(session, session.query(LoadRequest)) == 1
    load_id = peek(session, lambda: session.query(LoadRequest).one().id)

    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/chips/load")})
    signed_in(client, "driver_a")
    page = client.get("/chips/load").get_data(as_text=True)
    assert "¥100.00" in page and "Request a load" not in page and w.a2_number[-4:] not in page
    assert (
        client.post(f"/chips/loads/{load_id}/write", data={"csrf_token": csrf_token(client, "/chips/load")}).status_code
        == 403
    )

    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/chips/load")})
    signed_in(client, "admin_a")
    response = client.post(f"/chips/loads/{load_id}/write", data={"csrf_token": csrf_token(client, "/chips/load")})
    assert response.status_code == 303
    assert peek(session, lambda: purse_balance(session, w.a1)) == 10000
    assert peek(session, lambda: session.query(VirtualChip).filter_by(card_id=w.a1).one().purse_balance) == 10000


def test_cancel_releases_the_reserve(client, session, world):
    w = world
    signed_in(client, "admin_a")
    request_load(client, w.a1, amount="200")
    load_id = peek(session, lambda: session.query(LoadRequest).one().id)
    assert peek(session, lambda: ledger.available(ledger.card_account(session, w.a1, "reserve"))) == 30000
    page = client.get("/chips/load").get_data(as_text=True)
    assert f'href="/chips/loads/{load_id}/cancel"' in page  # a link to the confirmation, not a one-click POST
    token = csrf_token(client, "/chips/load")
    # the server asks first: a POST without the confirmation only leads to it
    direct = client.post(f"/chips/loads/{load_id}/cancel", data={"csrf_token": token})
    assert direct.status_code == 303 and direct.headers["Location"].endswith(f"/chips/loads/{load_id}/cancel")
    client.set_cookie("lang", "en")
    confirmation = client.get(f"/chips/loads/{load_id}/cancel").get_data(as_text=True)
    assert "¥200.00" in confirmation and w.a1_number[-4:] in confirmation and "Cancel the load" in confirmation
    assert peek(session, lambda: ledger.available(ledger.card_account(session, w.a1, "reserve"))) == 30000
    assert peek(session, lambda: session.query(LoadRequest).one().status) == "pending"
    done = client.post(f"/chips/loads/{load_id}/cancel", data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 303
    assert peek(session, lambda: ledger.available(ledger.card_account(session, w.a1, "reserve"))) == 50000
    assert "nothing to cancel" in client.get(f"/chips/loads/{load_id}/cancel").get_data(as_text=True)


def test_read_shows_differences_and_sync_clears_them(client, session, world):
    w = world
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    request_load(client, w.a1, amount="100")
    load_id = peek(session, lambda: session.query(LoadRequest).one().id)
    client.post(f"/chips/loads/{load_id}/write", data={"csrf_token": csrf_token(client, "/chips/load")})
    token = csrf_token(client, "/chips/load")
    response = client.post("/chips/simulate-purchase", data={"csrf_token": token, "card_id": w.a1, "amount": "30",
                                                             "station_code": "ST110001", "product_code": "92"})  # fmt: skip
    assert response.status_code == 303
    page = client.get(f"/chips/read?card={w.a1}").get_data(as_text=True)
    assert page.count('data-differs="1"') == 2  # purse balance, purchases not uploaded
    assert "<mark>¥70.00</mark>" in page
    station = peek(session, lambda: session.scalar(select(Station.name).where(Station.code == "ST110001")))
    assert f"<td>{station}</td>" in page and "<td>ST110001</td>" not in page  # the chip's log names the station
    response = client.post("/chips/sync", data={"csrf_token": token, "card_id": w.a1})
    assert response.status_code == 200 and 'data-testid="sync-result"' in response.get_data(as_text=True)
    page = client.get(f"/chips/read?card={w.a1}").get_data(as_text=True)
    assert 'data-differs="1"' not in page
    assert peek(session, lambda: purse_balance(session, w.a1)) == 7000


# -- who may see what ------------------------------------------------------------------------------

ROUTES = [
    # (method, path, expected for: other customer's admin, driver, staff of another region)
    ("GET", "/funds/allocate", (200, 403, 403)),
    ("GET", "/funds/collect", (200, 403, 403)),
    ("POST", "/funds/allocate", (422, 403, 403)),
    ("POST", "/funds/collect", (422, 403, 403)),
    ("GET", "/funds/batches/{batch}", (404, 403, 403)),
    ("POST", "/funds/batches/{batch}/confirm", (404, 403, 403)),
    ("GET", "/funds/batches/{batch}/receipt", (404, 403, 403)),
    ("GET", "/funds/deposits", (200, 403, 200)),
    ("POST", "/funds/deposits", (403, 403, 422)),
    ("POST", "/funds/deposits/confirm", (403, 403, 422)),
    ("GET", "/chips/read?card={a2}", (404, 404, 403)),
    ("GET", "/chips/sync", (200, 403, 403)),
    ("POST", "/chips/sync", (404, 403, 403)),
    ("GET", "/chips/load", (200, 200, 403)),
    ("POST", "/chips/load", (422, 403, 403)),
    ("POST", "/chips/loads/{load}/write", (404, 403, 403)),
    ("POST", "/chips/loads/{load}/cancel", (404, 403, 403)),
    ("GET", "/chips/loads/{load}/cancel", (404, 403, 403)),
    ("POST", "/chips/simulate-purchase", (404, 403, 403)),
]


@pytest.mark.parametrize("who", ["admin_b", "driver_a", "staff_r2"])
@pytest.mark.parametrize(("method", "path", "expected"), ROUTES)
def test_nobody_reaches_another_customers_funds(client, session, clock, world, who, method, path, expected):
    w = world
    from portal.cards.models import Card
    from portal.chips import loads

    load = loads.request_load(session, load_id="a" * 32, card=session.get(Card, w.a1), amount=100, actor_id=w.admin_a,
                              now=clock.now())  # fmt: skip
    session.commit()
    load_id = load.id  # read before the rollbacks below expire it (a refresh would hold SQLite's lock)
    transfers_before = count(session, session.query(ledger.Transfer))
    signed_in(client, who)
    url = path.format(batch=w.batch, a2=w.a2, load=load_id)
    data = {
        "csrf_token": csrf_token(client, "/auth/change-password" if who == "driver_a" else "/"),
        "card_id": w.a2, "amount": "1", f"amount-{w.a2}": "1", "action": "preview", "password": PASSWORD,
        "key": "b" * 32, "customer_id": w.a, "bank_reference": "R-1",
    }  # fmt: skip
    response = client.get(url) if method == "GET" else client.post(url, data=data)
    assert response.status_code == expected[["admin_b", "driver_a", "staff_r2"].index(who)]
    page = response.get_data(as_text=True)
    assert w.a2_number not in page.replace(" ", "")
    assert count(session, session.query(ledger.Transfer)) == transfers_before
    assert peek(session, lambda: session.get(LoadRequest, load_id).status) == "pending"


def test_expire_loads_command_voids_overdue_holds(app, session, clock, world):
    from datetime import timedelta

    from portal.cards.models import Card
    from portal.chips import loads

    w = world
    loads.request_load(session, load_id="c" * 32, card=session.get(Card, w.a1), amount=100, actor_id=w.admin_a,
                       now=clock.now())  # fmt: skip
    session.commit()
    clock.advance(timedelta(days=4))
    result = app.test_cli_runner().invoke(args=["chips", "expire-loads"])
    assert result.exit_code == 0 and "1 load request(s) expired" in result.output
    assert peek(session, lambda: session.get(LoadRequest, "c" * 32).status) == "expired"


def test_a_driver_reads_their_own_chip_but_cannot_spend_or_sync(client, world):
    signed_in(client, "driver_a")
    page = client.get("/chips/read").get_data(as_text=True)  # one card: shown without choosing
    assert 'data-testid="chip-vs-host"' in page and 'data-testid="virtual-reader"' in page
    assert "simulate-purchase" not in page
    assert client.get("/chips/sync").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        f"/chips/read?card={2**63}",
        f"/chips/read?card={10**30}",
        f"/chips/loads/{'9' * 40}/cancel",
        f"/cards/{2**63}/controls",
    ],
)
def test_ids_out_of_range_are_404_not_500(client, world, path):
    signed_in(client, "admin_a")
    response = (
        client.get(path) if "cancel" not in path else client.post(path, data={"csrf_token": csrf_token(client, "/")})
    )
    assert response.status_code == 404


def test_a_lapsed_load_is_waiting_nowhere(client, session, clock, world):
    """Before `chips expire-loads` runs, a load whose hold lapsed is left out of every "waiting"
    figure: the load page, the funds table and the read page agree."""
    from datetime import timedelta

    from portal.cards.models import Card
    from portal.chips import loads

    w = world
    loads.request_load(session, load_id="d" * 32, card=session.get(Card, w.a1), amount=12_300, actor_id=w.admin_a,
                       now=clock.now())  # fmt: skip
    session.commit()
    signed_in(client, "admin_a")
    assert "123.00" in client.get("/funds/allocate").get_data(as_text=True)
    clock.advance(timedelta(days=4))
    signed_in(client, "admin_a")  # the first session has timed out meanwhile
    load_page = client.get("/chips/load").get_data(as_text=True)
    waiting = re.search(rf'data-testid="waiting-{w.a1}">(.*?)</td>', load_page, re.S).group(1)
    assert "123.00" not in waiting  # (the recent-loads list still shows it, as expired)
    for page in ("/funds/allocate", f"/chips/read?card={w.a1}"):
        response = client.get(page)
        assert response.status_code == 200 and "123.00" not in response.get_data(as_text=True), page


def test_the_load_page_is_searched_and_recent_loads_are_paged(client, session, clock, world):
    from datetime import timedelta

    from portal.cards.models import Card
    from portal.chips import loads

    w = world
    for i in range(25):
        card = session.get(Card, w.a1 if i % 5 else w.a2)
        loads.request_load(session, load_id=f"{i:032d}", card=card, amount=100 + i, actor_id=w.admin_a,
                           now=clock.now() + timedelta(seconds=i))  # fmt: skip
    session.commit()
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    page = client.get("/chips/load").get_data(as_text=True)
    recent = page[page.index('data-testid="recent-loads"') :]
    assert recent.count("<tr><td>") == 20 and "¥1.24" in recent  # the newest first
    older = re.search(r'<a href="([^"]+)" rel="next">Older loads</a>', page).group(1).replace("&amp;", "&")
    rest = client.get(older).get_data(as_text=True)
    rest = rest[rest.index('data-testid="recent-loads"') :]
    assert rest.count("<tr><td>") == 5 and "¥1.00" in rest and "Older loads" not in rest
    # a search narrows both the cards and the recent loads to the matching cards
    found = client.get("/chips/load?q=二号车").get_data(as_text=True)
    cards = found[found.index('data-testid="load-cards"') : found.index('data-testid="recent-loads"')]
    assert w.a2_number[-4:] in cards and w.a1_number[-4:] not in cards
    assert found[found.index('data-testid="recent-loads"') :].count("<tr><td>") == 5
    # a row's link preselects its card in the request form
    chosen = client.get(f"/chips/load?card={w.a3}").get_data(as_text=True)
    assert f'<option selected value="{w.a3}">' in chosen
    assert client.get("/chips/load?loads=forged&page=x").status_code == 200
