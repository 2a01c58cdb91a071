"""portal.ops.logs: JSON lines, and every kind of secret redacted whoever logs it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from portal.ops.logs import configure, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("connect postgresql+psycopg://portal:Pa55word@db.internal/portal failed", "Pa55word"),
        ("redis://:hunter2hunter2@cache:6379/0 is down", "hunter2hunter2"),
        ("Authorization: Bearer tk_live_8f3a9c", "tk_live_8f3a9c"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ('"GET /auth/reset/IjQ2Ig.aXbZ.kq9 HTTP/1.1" 200', "IjQ2Ig.aXbZ.kq9"),
        ("https://portal.example.cn/auth/reset/tok-123?x=1", "tok-123"),
        ("password=Demo#2026pass&username=x", "Demo#2026pass"),
        ('{"new_password": "Secret!2026"}', "Secret!2026"),
        ("X-Terminal-Key: k3y-0f-the-pump", "k3y-0f-the-pump"),
        ("Cookie: portal_session=abcdef0123", "abcdef0123"),
        ("registration code=834211 sent", "834211"),
        ("csrf_token=IjcwOWNl.axbzcg", "IjcwOWNl.axbzcg"),
        ("Cookie: lang=en; portal_session=s3ss10nvalue", "s3ss10nvalue"),
        ("Authorization: Token abcdef123", "abcdef123"),
        ("【大客户终端】您的注册验证码为 482913，10分钟内有效", "482913"),
        ("Your registration code is 482913. It is valid for 10 minutes.", "482913"),
    ],
)
def test_redact_removes_the_secret_and_keeps_the_line(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and "***" in cleaned


def test_redact_leaves_ordinary_lines_alone():
    line = "GET ops.healthz 200 /cards/12/controls request_id=probe-0001"
    assert redact(line) == line


def test_configure_writes_one_redacted_json_object_per_line_and_replaces_itself():
    first, second = io.StringIO(), io.StringIO()
    configure(stream=first)
    configure(stream=second)
    try:
        logging.getLogger("portal.test").warning("sign-in with password=%s", "Hunter2!x", extra={"user_id": 7})
    finally:
        configure()
    assert first.getvalue() == ""
    [record] = [json.loads(line) for line in second.getvalue().splitlines()]
    assert record["message"] == "sign-in with password=***" and record["user_id"] == 7
    assert (record["level"], record["logger"]) == ("WARNING", "portal.test") and record["time"].endswith("+00:00")
