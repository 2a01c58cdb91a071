"""Demo identities: credit codes with valid check characters, plates and phones in the right shape."""

from __future__ import annotations

import random
import re

from hypothesis import given
from hypothesis import strategies as st

from portal.demo import names


def test_published_credit_code_example_is_valid():
    # The example printed in GB 32100-2015 guidance material.
    assert names.is_valid_credit_code("91350100M000100Y43")
    assert not names.is_valid_credit_code("91350100M000100Y44")  # wrong check character
    assert not names.is_valid_credit_code("91350100M000100Y4")  # too short
    assert not names.is_valid_credit_code("91350100M000100I43")  # I is not in the character set


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["11", "44", "65"]))
def test_generated_identities_are_well_formed(seed, region):
    rng = random.Random(seed)
    code = names.credit_code(rng, region)
    assert names.is_valid_credit_code(code)
    assert code.startswith("91" + region)
    assert re.fullmatch(r"1[3-9]\d{9}", names.mobile(rng))
    assert re.fullmatch(r"京A[0-9A-HJ-NP-Z]{5}", names.plate(rng, "京", "A"))
    assert names.company(rng, "北京", "truck").startswith("北京")
    assert 2 <= len(names.person_name(rng)) <= 3


def test_same_seed_same_names():
    assert [names.person_name(random.Random(7)) for _ in range(3)] == [names.person_name(random.Random(7))] * 3
