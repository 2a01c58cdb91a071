"""Schemathesis over the money endpoints of the customer API (balances, allocations, collections,
deposits, loads, points, alerts): generated requests, a bounded number per operation, never a 5xx,
every answer as the OpenAPI document says (status, media type, body)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings

from tests.web.api_money_support import allocate, deposit, in_app, owned_key

pytestmark = pytest.mark.slow

#: Examples per operation (CI time is bounded; a broken endpoint fails in the first few).
EXAMPLES = 25
PATHS = r"^/api/v1/(balances|allocations|collections|deposits|loads|points|alerts)"


def test_money_endpoints_conform_to_their_schema(app, api_world):
    import schemathesis
    from schemathesis.checks import positive_data_acceptance

    in_app(app, lambda s: deposit(s, api_world.world, 100_000, reference="SEED-1"))
    in_app(app, lambda s: allocate(s, api_world.world, {"9030000100000110": 10_000}))
    token = owned_key(app, api_world.world)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}",
                            "Idempotency-Key": uuid.uuid4().hex}  # fmt: skip
            # a schema-valid request may still be refused: an opaque cursor of another list (400), a
            # business rule (422 plan_rejected): what matters is no 5xx and answers as documented
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
