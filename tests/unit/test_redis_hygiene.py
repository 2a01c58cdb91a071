"""Tests never empty a Redis database: TEST_REDIS_URL may point at one a developer uses. A test that
needs Redis writes under a key prefix of its own (RATELIMIT_KEY_PREFIX) and deletes those keys only."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
EMPTIES_A_DATABASE = re.compile(r"\bflush(db|all)\b|\bFLUSH(DB|ALL)\b", re.IGNORECASE)


def test_no_test_flushes_a_redis_database():
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if EMPTIES_A_DATABASE.search(line)
    ]
    assert not offenders, f"tests must delete their own keys by prefix, never flush the database: {offenders}"
