"""Hypothesis over every form POST of the portal, its upload and a few headers: no answer is a 5xx,
and a refused form changes nothing.

The forms are found the way a person finds them: every page a role may open is walked (following
its links, so detail pages with real ids are reached), and every `<form method="post">` on them is
read with its real field names, hidden values, options and buttons. Each example posts one such form
with a valid CSRF token and 1 to 4 of its fields (sometimes a field of another form) replaced by
hostile values: huge and negative numbers, NaN, years 0001 and 9999, full-width and other scripts'
digits, control characters, 10-100 KB strings, repeated fields, ids of the other customer; file
fields get junk files (empty, binary, GB18030, UTF-16, near the size limit). A test fails when a
role may post to an endpoint that no page offers a form for and FALLBACK_FIELDS does not list.

CI runs FUZZ_EXAMPLES (default 40) examples per role; raise it by hand, e.g.
`FUZZ_EXAMPLES=500 .venv/bin/pytest tests/web/test_fuzz_forms.py -q`.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.builders import Showcase
from tests.web.conftest import csrf_token, login, routes

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
ROLES = ("visitor", "admin", "driver", "staff", "sysadmin")
#: POSTs no example sends: signing out ends the run's own session.
NOT_FUZZED = {"auth.sign_out"}
#: Endpoints a role may post to whose form no page of this world shows (a button shown only in some
#: state): their URL (path arguments "1") and the fields of their form class.
FALLBACK_FIELDS: dict[str, tuple[str, ...]] = {
    "auth.reset_password": ("new_password", "confirm"),
    "auth.register_account": ("code", "username", "new_password", "confirm"),
    "auth.confirm_password": ("password",),
    "rewards.confirm": ("key", "card_id", "points"),
    "chips.simulate_purchase": ("amount", "station_code", "product_code", "litres", "card_id"),
    "cards.cancel_loss": (),
    "cards.replace": ("idempotency_key",),
    "funds.confirm": ("password",),
    "funds.deposit_confirm": ("key", "customer_id", "amount", "bank_reference", "memo", "password"),
    "chips.write_load": (),
    "chips.cancel_load": ("confirm",),
    "drivers.set_driver_active": ("active",),  # the reactivate button: only for an inactive driver
    "drivers.set_vehicle_active": ("active",),  # the reactivate button: only for an inactive vehicle
    "alerts.acknowledge": (),
    "support.reset_password": ("confirmed",),
    "support.send_reset_link": (),
    "support.unlock": (),
    # webhooks: the world has no endpoint, so no page shows these forms
    "webhooks.edit": ("url", "events", "description", "threshold"),
    "webhooks.delete": ("confirmed",),
    "webhooks.rotate_secret": ("confirmed",),
    "webhooks.enable": (),
    "webhooks.disable": (),
    "webhooks.send_test": (),
    "webhooks.redeliver": (),
    "apikeys.revoke": ("confirmed",),
}
#: The only audit events a refused form may write: the failure itself (wrong password, lock, refusal).
REFUSALS = re.compile(r"_(failed|refused|locked)|\.locked")
#: Rows a refused form must not add.
GUARDED_TABLES = (
    "ledger_transfers", "deposits", "load_requests", "points_redemptions", "cards", "users", "loss_reports",
)  # fmt: skip

_EXTREMES = (
    "", " ", "0", "-1", "-0", "+1", "1.005", "0.001", "-0.01", "1e999", "1e-999", "NaN", "nan", "inf", "-Infinity",
    str(2**31), str(2**63), str(-(2**63) - 1), str(10**30), "9" * 19, "9" * 40, "1" * 400, "1_000", "0x10", "1,2,3",
    "1,0000.00", "¥1", "１２３４", "－５", "１２３．４５", "٣", "١٢٣", "१२३", "𝟏𝟐", "²", "①", "Ⅻ", "〇", "一百",
    "0001-01-01", "9999-12-31", "0000-01", "9999-12", "2026-02-30", "00:00-24:00", "25:99-99:99", "06:00-",
    "\x00", "\r\n", "\rSet-Cookie: x=1", "\x1b[2J", "\u202e", "\ufeff", "\ud7ff", "\uffff", "\U0010ffff", "🚗" * 20,
    "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "//evil.example", "javascript:alert(1)",
    "zh_CN", "en", "lost", "stolen", "split", "topup", "all", "preview", "1", "true", "on",
)  # fmt: skip


def _long_strings():
    return st.builds(lambda char, size: char * size, st.sampled_from("x9一\x00 "), st.integers(10_000, 100_000))


def _values(foreign_ids: list[str]):
    scalar = st.one_of(
        st.sampled_from(_EXTREMES),
        st.sampled_from(foreign_ids),
        st.integers().map(str),
        st.text(max_size=30),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        _long_strings(),
    )
    # a list where a scalar is expected: the field repeated
    return st.one_of(scalar, scalar, scalar, st.lists(scalar, min_size=2, max_size=4))


def _junk_files(card_numbers: list[str]):
    """Upload bodies: junk bytes, CSVs with hostile amounts in several encodings, near the 1 MB limit."""
    line = st.tuples(st.sampled_from(card_numbers + ["", "x", "9" * 40]), st.sampled_from(_EXTREMES))
    csv_text = st.lists(line, max_size=6).map(lambda rows: "".join(f"{n},{a}\n" for n, a in rows))
    encoded = st.tuples(csv_text, st.sampled_from(("utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-32", "latin-1")))
    return st.one_of(
        st.just(b""),
        st.binary(max_size=300),
        encoded.map(lambda pair: pair[0].encode(pair[1], errors="replace")),
        st.sampled_from([b"\xff\xfe\x00", b"card_number,amount\n" + b"\x00" * 1000, b"\r" * 5000]),
        st.just(("9030000100000110,1\n" * 52_000).encode()[:999_000]),
        st.just(b"x" * 1_000_001),
    )


# --- the forms, read from the pages --------------------------------------------------------------


@dataclass
class Form:
    endpoint: str
    url: str
    #: what a browser would send untouched (hidden values, first option, checked boxes)
    base: dict[str, list[str]] = field(default_factory=dict)
    #: every field name, with the values the page offers for it (options, buttons)
    names: dict[str, set[str]] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)


class _PageReader(HTMLParser):
    """The links and the POST forms of one page."""

    def __init__(self, url: str):
        super().__init__()
        self.url, self.links, self.forms, self._form, self._select = url, [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.url, a["href"]))
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form("", urljoin(self.url, a.get("action") or self.url))
            self.forms.append(self._form)
        elif self._form is not None and a.get("name"):
            self._field(tag, a)
        elif tag == "option" and self._select is not None:
            self._form.names[self._select].add(a.get("value", ""))
            self._form.base.setdefault(self._select, [a.get("value", "")])

    def _field(self, tag, a):
        name, value = a["name"], a.get("value", "")
        self._form.names.setdefault(name, set()).add(value)
        kind = a.get("type", "text").lower()
        if tag == "select":
            self._select = name
        elif kind == "file":
            self._form.files.add(name)
        elif kind in ("checkbox", "radio"):
            if "checked" in a:
                self._form.base.setdefault(name, []).append(value)
        elif tag != "button" and kind != "submit":
            self._form.base.setdefault(name, []).append(value)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _endpoint(app, url: str, method: str) -> str | None:
    from werkzeug.exceptions import HTTPException

    parts = urlsplit(url)
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method=method)
    except HTTPException:
        return None
    return endpoint


def _crawl(app, client, start: list[str], limit: int = 250) -> dict[str, list[Form]]:
    """Every page reachable from `start` (at most 3 URLs per endpoint): their POST forms, by endpoint."""
    seen, queue, per_endpoint, forms = set(), list(start), {}, {}
    while queue and len(seen) < limit:
        url = queue.pop(0)
        endpoint = _endpoint(app, url, "GET")
        path = urlsplit(url).path + ("?" + urlsplit(url).query if urlsplit(url).query else "")
        if endpoint is None or path in seen or endpoint in ("static", "auth.sign_out") or "export" in endpoint:
            continue
        if per_endpoint.setdefault(endpoint, 0) >= 3:
            continue
        seen.add(path)
        per_endpoint[endpoint] += 1
        response = client.get(path)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        reader = _PageReader("http://localhost" + path)
        reader.feed(response.get_data(as_text=True))
        queue.extend(link for link in reader.links if urlsplit(link).netloc in ("", "localhost"))
        for form in reader.forms:
            form.endpoint = _endpoint(app, form.url, "POST") or ""
            form.url = urlsplit(form.url).path + ("?" + urlsplit(form.url).query if urlsplit(form.url).query else "")
            targets = forms.setdefault(form.endpoint, [])
            if form.endpoint and len(targets) < 3 and form.url not in {f.url for f in targets}:
                targets.append(form)
    return forms


#: What a person would type into a field the page leaves empty, so that an example with one hostile
#: field gets past the others and reaches the service. (Never a new password: the run's own user
#: must keep theirs.)
PLAUSIBLE = {
    "name": "夜班二", "amount": "12.34", "split_total": "10", "topup_target": "5", "bank_reference": "FZ-1",
    "memo": "测试", "plate": "京A54321", "tank": "55", "model": "解放J6", "username": "fuzz.user1",
    "contact": "13800000001", "credit_code": "91110105MA01TEST2X", "points": "100", "hours": "06:00-22:00",
    "daily_count_limit": "3", "note": "备注", "nickname": "夜班车", "litres": "10",
}  # fmt: skip


def _offered(form: Form, name: str):
    """The values the page itself offers for `name` (options, buttons such as action=split)."""
    offered = sorted(form.names.get(name, set()) - {""})
    return st.sampled_from(offered) if offered else st.nothing()


def _filled(form: Form, world) -> dict[str, list[str]]:
    """The form as sent untouched, with plausible values in empty fields and the right password."""
    body = {name: values for name, values in form.base.items()}
    for name in form.names:
        if any(body.get(name, [])):
            continue
        if name == "password":
            body[name] = [world.password]
        elif name.startswith("amount-"):
            body[name] = ["1"]
        elif name in PLAUSIBLE:
            body[name] = [PLAUSIBLE[name]]
    return body


# --- the world and the roles ---------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzWorld(Showcase):
    #: pages no link leads to
    pages: tuple[str, ...] = ()


@pytest.fixture
def fuzz_world(app, clock, showcase_world):
    """The showcase plus money on a card, a prepared allocation, a waiting load, a control template,
    a loss report, a terminal and an alert, so that the pages show their forms; lockout off (wrong
    passwords are among the values)."""
    from portal.alerts.models import Alert
    from portal.auth.models import User
    from portal.cards import loss
    from portal.cards import services as cards
    from portal.cards.controls import Controls
    from portal.cards.models import Card
    from portal.chips import loads
    from portal.customers.models import Customer
    from portal.extensions import db
    from portal.funds import services as funds
    from portal.funds.plan import RawLine
    from portal.reference.models import Station
    from portal.stations.terminals import create_terminal

    world, now = showcase_world, clock.now()
    app.config["LOCKOUT"] = {"max_failures": 10**9, "captcha_after": 10**9}
    with app.app_context():
        s = db.session
        users = {u.username: u.id for u in s.scalars(select(User))}
        customer = s.get(Customer, world.customer_id)
        active = s.scalars(
            select(Card).where(Card.customer_id == customer.id, Card.role == "sub", Card.status == "active")
        ).all()
        funds.record_deposit(
            s, key="d" * 32, customer=customer, amount=100_000, bank_reference="FUZZ", memo="",
            actor_id=users[world.staff], now=now - timedelta(days=1),
        )  # fmt: skip
        admin = users[world.admin]
        batch = funds.prepare_batch(
            s, customer_id=customer.id, kind="allocation", lines=[RawLine(1, active[0].number, "50")],
            actor_id=admin, now=now,
        )  # fmt: skip
        funds.confirm_batch(s, batch, actor_id=admin, now=now)
        prepared = funds.prepare_batch(
            s, customer_id=customer.id, kind="allocation", lines=[RawLine(1, active[1].number, "5")],
            actor_id=admin, now=now,
        )  # fmt: skip
        loads.request_load(
            s, load_id="f" * 32, card=active[0], amount=100, actor_id=admin, now=now, expiry=timedelta(hours=72)
        )
        cards.save_template(s, customer.id, "夜班", Controls(daily_count_limit=3), actor_id=admin, now=now)
        loss.report_loss(s, active[-1], reason="lost", actor_id=admin, now=now)
        create_terminal(s, s.scalars(select(Station)).first(), "Pump 1", now=now, actor_id=users[world.sysadmin])
        detail = {"count": 5, "normal": 1, "threshold": 3, "day": "2026-03-02"}
        s.add(Alert(customer_id=customer.id, card_id=active[0].id, kind="too_many_fills", dedupe_key="fuzz",
                    detail=detail, created_at=now))  # fmt: skip
        s.commit()
        return FuzzWorld(**asdict(world), pages=(f"/funds/batches/{prepared.id}",))


def _foreign_values(app, world) -> tuple[list[str], list[str]]:
    """Ids of the other customer's objects (and every user id), and every card number."""
    from portal.auth.models import User
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        foreign = [str(world.other_customer_id), str(world.shanghai_id)]
        foreign += [str(i) for i in db.session.scalars(select(Card.id).where(Card.customer_id != world.customer_id))]
        foreign += [str(i) for i in db.session.scalars(select(User.id))]
        numbers = list(db.session.scalars(select(Card.number)))
    return foreign, numbers


def _sign_in(client, world, role: str) -> str:
    if role != "visitor":
        assert login(client, getattr(world, role), world.password).status_code == 302
    return csrf_token(client, "/auth/sign-in" if role == "visitor" else "/")


def _targets(app, client, role: str, pages: list[str]) -> list[Form]:
    """Every form the role may post, read from the pages; FALLBACK_FIELDS for the rest."""
    from portal.auth.permissions import allows
    from portal.web.access import required_permission

    gets = [url for endpoint, url, method in routes(app) if method == "GET" and endpoint != "static"]
    found = _crawl(app, client, ["/", *pages, *gets])
    targets, done = [], set(NOT_FUZZED)
    for endpoint, url, method in routes(app):
        if method != "POST" or endpoint in done or endpoint.startswith(("terminal_api.", "api.")):
            continue
        done.add(endpoint)
        permission = required_permission(app.view_functions[endpoint], "POST")
        if (permission == "public") != (role == "visitor") and endpoint != "shell.set_language":
            continue  # the public forms (sign-in, register, recover) are fuzzed signed out
        if role != "visitor" and not allows(role, permission):
            continue
        if endpoint in found:
            targets += found[endpoint]
            continue
        assert endpoint in FALLBACK_FIELDS, f"no page offers a form for {endpoint}: add it to FALLBACK_FIELDS"
        targets.append(Form(endpoint, url, names={name: set() for name in FALLBACK_FIELDS[endpoint]}))
    return targets


def _post(client, url: str, body: dict, *, multipart: bool):
    if not multipart:
        return client.post(url, data=body)
    # encoded here, in memory: the test client spools a large multipart body to a file it never closes
    boundary, encoded = encode_multipart(MultiDict([(k, v) for k, vs in body.items() for v in _as_list(vs)]))
    return client.post(url, data=encoded, content_type=f"multipart/form-data; boundary={boundary}")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _last_audit_id(app) -> int:
    from portal.extensions import db

    with app.app_context():
        return db.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_events")).scalar()


def _audit_actions_after(app, last_id: int) -> list[str]:
    from portal.extensions import db

    with app.app_context():
        return list(db.session.scalars(text("SELECT action FROM audit_events WHERE id > :id"), {"id": last_id}))


def _guarded_counts(app) -> tuple[int, ...]:
    from portal.extensions import db

    with app.app_context():
        return tuple(db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in GUARDED_TABLES)  # noqa: S608


@pytest.mark.parametrize("role", ROLES)
def test_fuzzed_form_posts_never_cause_a_server_error(app, client, fuzz_world, role):
    """Hypothesis: any value in any field of any form the role may post answers < 500; a refused
    one (4xx) adds no ledger transfer, deposit, load, redemption, card, user or loss report, and
    audits nothing but the failure itself."""
    world = fuzz_world
    token = _sign_in(client, world, role)
    targets = _targets(app, client, role, fuzz_world.pages)
    foreign, numbers = _foreign_values(app, world)
    every_name = sorted({name for form in targets for name in form.names} - {"csrf_token"})
    values, files = _values(foreign), _junk_files(numbers)
    state = {"token": token}

    by_endpoint: dict[str, list[Form]] = {}
    for target in targets:
        by_endpoint.setdefault(target.endpoint, []).append(target)

    # every endpoint as likely as another, however many pages offer its form
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(endpoint=st.sampled_from(sorted(by_endpoint)), data=st.data())
    def probe(endpoint, data):
        form = data.draw(st.sampled_from(by_endpoint[endpoint]))
        names = sorted(set(form.names) - {"csrf_token"} - form.files) or every_name
        fuzzed = data.draw(st.lists(st.sampled_from(names) | st.sampled_from(every_name), max_size=4, unique=True))
        changes = {name: data.draw(values | _offered(form, name)) for name in fuzzed}
        body = {**_filled(form, world), **changes, "csrf_token": state["token"]}
        for name in form.files:
            body[name] = FileStorage(io.BytesIO(data.draw(files)), data.draw(st.sampled_from(["a.csv", "", "x.xlsx"])))
        before, last_audit = _guarded_counts(app), _last_audit_id(app)
        response = _post(client, form.url, body, multipart=bool(form.files))
        response.get_data()
        response.close()
        assert response.status_code < 500, (role, form.endpoint, form.url, fuzzed, response.status_code)
        if 400 <= response.status_code < 500:
            assert _guarded_counts(app) == before, (role, form.endpoint, fuzzed, "a refused form changed data")
            claims = [a for a in _audit_actions_after(app, last_audit) if not REFUSALS.search(a)]
            assert not claims, (role, form.endpoint, fuzzed, "a refused form audited", claims)
        if role != "visitor" and "/auth/sign-in" in response.headers.get("Location", ""):
            state["token"] = _sign_in(client, world, role)  # a sign-out or lock: carry on signed in

    probe()


def test_every_post_still_needs_its_csrf_token(app, client, fuzz_world):
    """The fuzz sends valid tokens; without one, a form is refused (CSRF protection is on)."""
    _sign_in(client, fuzz_world, "admin")
    for url in ("/funds/allocate", "/profile/", "/drivers/new", "/language"):
        assert client.post(url, data={"lang": "en", "name": "x"}).status_code == 400, url


# --- headers ---------------------------------------------------------------------------------------

_HEADER_JUNK = (
    "", "*", "zh-CN,zh;q=NaN", "en;q=1e999", "xx-" + "x" * 500, ";;;,,,q=", "zh_CN;q=-1", "en-US,en;q=0.9" * 300,
    "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=" + "-" * 300,
    "application/x-www-form-urlencoded; charset=utf-7", "application/json", "text/plain; charset=gb18030",
    "portal_session=" + "A" * 4000, "portal_session=..; lang=klingon", "lang=\x7f", "=; =; ;", "1.2.3.4, ::1, x",
    "999.999.999.999", "unknown", "::ffff:" + "f" * 300, "1.2.3.4:80", "[::1]:443", "fe80::1%eth0", "2001:db8::1",
    "https", "javascript", "evil.example:99999", "localhost:-1", "a b", "%00", "application/json;q=2, text/html;q=NaN",
)  # fmt: skip


def _header_values():
    # What a server hands the app: bytes read as Latin-1, without CR, LF or NUL.
    junk = st.text(max_size=60).map(lambda s: s.encode("utf-8").decode("latin-1"))
    return st.one_of(st.sampled_from(_HEADER_JUNK), junk).map(
        lambda s: s.replace("\r", "").replace("\n", "").replace("\x00", "")
    )


@pytest.mark.parametrize("role", ["visitor", "admin"])
def test_fuzzed_headers_never_cause_a_server_error(app, client, fuzz_world, role):
    """Hypothesis: junk Accept-Language, Accept, Content-Type, Cookie, X-Forwarded-* and a wrong
    Content-Length on a sample of pages and posts answer < 500, behind one trusted proxy as in
    production (PROXY_COUNT=1), so the forwarded headers are read."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    token = _sign_in(client, fuzz_world, role)
    requests = [
        ("GET", "/auth/sign-in"), ("POST", "/auth/sign-in"), ("POST", "/language"), ("GET", "/"),
        ("GET", "/queries/purchases"), ("POST", "/funds/allocate"), ("POST", "/profile/"), ("GET", "/static/css/portal.css"),
    ]  # fmt: skip
    header_names = (
        "Accept-Language", "Accept", "Content-Type", "Cookie", "X-Forwarded-For", "X-Forwarded-Proto",
        "X-Forwarded-Host", "User-Agent", "Content-Length",
    )  # fmt: skip

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        request=st.sampled_from(requests),
        headers=st.dictionaries(st.sampled_from(header_names), _header_values(), min_size=1, max_size=4),
    )
    def probe(request, headers):
        method, url = request
        length = headers.pop("Content-Length", None)
        environ = {"CONTENT_LENGTH": length} if length is not None else {}
        body = f"csrf_token={token}&lang=en&username=x&password=y".encode()
        response = client.open(url, method=method, data=body if method == "POST" else None, headers=headers,
                               environ_overrides=environ)  # fmt: skip
        response.get_data()
        response.close()
        assert response.status_code < 500, (method, url, headers, length, response.status_code)
        if role != "visitor" and "/auth/sign-in" in response.headers.get("Location", ""):
            _sign_in(client, fuzz_world, role)

    probe()
