from __future__ import annotations

import pytest

from tests.builders import make_books
from tests.conftest import T0


@pytest.fixture
def books(session):
    return make_books(session, T0)


@pytest.fixture
def now():
    return T0
