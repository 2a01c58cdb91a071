"""docs/api.md (Chinese) and docs/api.en.md (English) stay true to the API: every curl example's method
and path is an operation of the OpenAPI document, both languages show the same examples and name the
same problem codes, and every fixed problem code of portal.api.problems is in the codes table."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FILES = ("api.md", "api.en.md")
#: Example paths whose endpoints live in another area's module: until that module is on the branch the
#: example cannot be checked (it is, strictly, once the areas are merged).
AREA_MODULES = {"/api/v1/allocations": "portal.api.funds", "/api/v1/loads": "portal.api.loads"}


def curl_examples(text: str) -> list[tuple[str, str]]:
    """(method, path) of each curl command in the text's shell blocks (continuation lines joined)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").split("\n"):
            if not command.strip().startswith("curl"):
                continue
            method = re.search(r"-X\s+([A-Z]+)", command)
            url = re.search(r'"(https?://[^"]+)"', command)
            assert url, command
            found.append((method.group(1) if method else "GET", urlsplit(url.group(1)).path))
    return found


def operation_matches(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path) is not None


@pytest.fixture(scope="module")
def texts():
    return {name: (DOCS / name).read_text(encoding="utf-8") for name in FILES}


def test_the_two_languages_link_each_other_and_show_the_same_examples(texts):
    assert "(api.en.md)" in texts["api.md"] and "(api.md)" in texts["api.en.md"]
    assert curl_examples(texts["api.md"]) == curl_examples(texts["api.en.md"])
    methods = {method for method, _ in curl_examples(texts["api.md"])}
    assert {"GET", "POST"} <= methods


def test_every_curl_example_is_an_operation_of_the_openapi_document(client, texts):
    document = client.get("/api/v1/openapi.json").get_json()
    examples = curl_examples(texts["api.md"])
    assert len(examples) >= 4
    for method, path in examples:
        if path in AREA_MODULES and importlib.util.find_spec(AREA_MODULES[path]) is None:
            continue  # that area's endpoints are not on this branch yet
        operations = [t for t in document["paths"] if operation_matches(t, path)]
        assert operations, f"{method} {path}: no such path in /api/v1/openapi.json"
        assert any(method.lower() in document["paths"][t] for t in operations), f"{method} {path}"


def test_the_documents_and_docs_pages_named_exist(client, texts):
    for name in ("api.md", "api.en.md"):
        for path in ("/api/v1/openapi.json", "/api/v1/docs", "/api/terminal/v1/openapi.json"):
            assert path in texts[name]
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200


def test_every_fixed_problem_code_is_in_both_tables(texts):
    from portal.api import problems

    codes = {code for _, code in problems.ERRORS.values() if code} | set(problems.HTTP_CODES.values())
    codes |= {"missing_key", "invalid_key", "key_revoked", "key_expired", "scope_missing", "address_not_allowed",
              "validation_failed", "malformed_json", "nul_character", "idempotency_key_missing",
              "idempotency_key_invalid", "idempotency_key_reused", "internal_error", "too_many_rows"}  # fmt: skip
    # Fallback codes of werkzeug errors no API endpoint raises (its 401/403/422 carry their own codes).
    codes -= {"unprocessable", "not_acceptable", "unauthorized", "forbidden"}
    for name, text in texts.items():
        missing = sorted(code for code in codes if f"`{code}`" not in text)
        assert not missing, f"{name} lacks {missing}"
