from __future__ import annotations

import pytest

from tests.conftest import T0
from tests.integration.ledger.books import make_books


@pytest.fixture
def books(session):
    return make_books(session, T0)


@pytest.fixture
def now():
    return T0
