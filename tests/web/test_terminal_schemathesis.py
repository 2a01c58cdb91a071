"""Schemathesis against the terminal API, from its own published document (/api/terminal/v1/openapi.json).

Requests are generated from the schema, valid ones and invalid ones (a field missing, of the wrong
type, out of range...), and sent with a real terminal key over a station, a card with money on
its chip and an approved purchase. Every answer must be documented and match the document: no
5xx, a documented status, JSON, the documented body and headers (Retry-After); an invalid body is
refused with a 4xx; a schema-valid body is never refused as malformed (400 is left only for a
time outside the years the description names). Bounded and deterministic: a fixed seed, a few
dozen examples per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.builders import CARD_NUMBER, station_setup
from tests.conftest import T0

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
#: Examples per operation and mode (positive, negative): 6 x 40 requests, a few seconds.
EXAMPLES = 40
SEED = 20261207
CONFIG = {
    "seed": SEED,
    "generation": {"deterministic": True, "database": "none"},
    "phases": {"coverage": {"enabled": False}},
}


@pytest.fixture
def terminal(app):
    """A Beijing station with a terminal (its real key), a card with 1,000 yuan on its chip, and one
    approved purchase at the station (what refunds name)."""
    from portal.extensions import db

    with app.app_context():
        world = station_setup(db.session, now=T0, purse_fen=100_000)
        db.session.commit()
        key = world.key
    first = _purchase(terminal_seq=10**9, litres_ml=10_000)
    answer = app.test_client().post("/api/terminal/v1/purchases", json=first, headers=_auth(key))
    assert answer.status_code == 200 and answer.get_json()["approved"], answer.get_json()
    return {"key": key, "purchase_id": answer.get_json()["purchase_id"]}


def _document_schema(app):
    config = schemathesis.Config.from_dict(CONFIG)
    return schemathesis.openapi.from_wsgi("/api/terminal/v1/openapi.json", app, config=config)


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _purchase(*, terminal_seq: int, litres_ml: int) -> dict:
    return {
        "card_number": CARD_NUMBER,
        "product_code": "92",
        "litres_ml": litres_ml,
        "unit_price_fen": 750,
        "amount_fen": litres_ml * 750 // 1000,
        "terminal_seq": terminal_seq,
        "at": T0.isoformat(),
    }


def _realistic(case, terminal) -> None:
    """Half of the valid bodies name the real card, product and purchase, at the terminal's time, so
    that approvals, declines, replays and refunds are exercised too, not only unknown cards."""
    body = case.body
    if not isinstance(body, dict) or body.get("terminal_seq", 1) % 2:
        return
    path = case.operation.path
    if path.endswith("/purchases"):
        case.body = {**body, **_purchase(terminal_seq=body["terminal_seq"], litres_ml=body["litres_ml"] % 60_000 + 1)}
    elif path.endswith("/refunds"):
        case.body = {**body, "purchase_id": terminal["purchase_id"]}
    else:
        case.body = {**body, "card_number": CARD_NUMBER, "points": 1000}


def _assert_refused_only_for_what_json_schema_cannot_say(body: dict, error: dict) -> None:
    """A schema-valid body refused with 400: only for a time outside the years the description names,
    or for a number written with a fraction (JSON Schema counts 1.0 as an integer; money and counts
    here are integers, so the API refuses it, as its description says)."""
    if error["code"] == "out_of_range":
        assert error["detail"].startswith("at "), (body, error)
        return
    floats = {name for name, value in body.items() if isinstance(value, float)}
    assert error["code"] == "bad_field" and error["detail"].split()[0] in floats, (body, error)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("operation", ["purchases", "refunds", "redemptions"])
def test_the_terminal_api_keeps_its_published_contract(app, terminal, operation, mode):
    strategy = _document_schema(app)[f"/api/terminal/v1/{operation}"]["POST"].as_strategy(generation_mode=mode)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found: no shrinking
    )
    @given(case=strategy)
    def probe(case):
        if not mode.is_negative:
            _realistic(case, terminal)
        response = case.call_and_validate(headers=_auth(terminal["key"]), checks=CHECKS)
        if not mode.is_negative and response.status_code == 400:
            _assert_refused_only_for_what_json_schema_cannot_say(case.body, response.json()["error"])

    seed(SEED)(probe)()


def test_the_document_is_generated_from_the_validating_models(client):
    """The published request bodies are the models the views validate with, field for field."""
    from portal.stations import api_schema

    document = client.get("/api/terminal/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    for path, model in (
        ("purchases", api_schema.PurchaseBody),
        ("refunds", api_schema.RefundBody),
        ("redemptions", api_schema.RedemptionBody),
    ):
        operation = document["paths"][f"/api/terminal/v1/{path}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert schemas[ref.rpartition("/")[2]] == model.model_json_schema(ref_template="#/components/schemas/{model}")
        assert {"200", "400", "401", "413", "429", "503"} <= set(operation["responses"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["terminalBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["terminalBearer"]["description"],
    }
    assert schemes["terminalKey"]["in"] == "header" and schemes["terminalKey"]["name"] == "X-Terminal-Key"
    assert document["security"] == [{"terminalBearer": []}, {"terminalKey": []}]


def test_the_docs_page_and_its_files_come_from_this_server(client):
    page = client.get("/api/terminal/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/terminal/v1/openapi.json" in html and "终端 API 参考" in html
    assert "http://" not in html and "https://" not in html and "<script>" not in html  # no CDN, no inline script
    # the customer API's docs page machinery (portal.api.docs_page): Swagger UI's inline styles allowed
    assert "style-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    for asset in ("/api/v1/docs/assets/swagger-ui-bundle.js", "/api/v1/docs/assets/swagger-ui.css"):
        assert asset in html
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 100_000
        assert "max-age" in response.headers["Cache-Control"]
        response.close()
    assert client.get("/api/terminal/v1/docs/../../config.py").status_code == 404
    assert client.get("/api/terminal/v1/docs/url.json").status_code == 404
