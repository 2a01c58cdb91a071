"""The password policy (密码规则): every default rule, Unicode, and bcrypt's 72-byte limit."""

import pytest

from portal.auth.passwords import check_password, hash_password
from portal.auth.policy import PasswordPolicy, character_classes, common_passwords

POLICY = PasswordPolicy()


def problems(password, **kwargs):
    return [str(p) for p in POLICY.problems(password, **kwargs)]


def test_a_good_password_passes():
    assert problems("Correct-Horse-9") == []


@pytest.mark.parametrize("length, ok", [(7, False), (8, True), (64, True), (65, False)])
def test_length_is_8_to_64_characters(length, ok):
    password = ("Aa1-" * 20)[:length]
    assert (problems(password) == []) is ok


def test_64_chinese_characters_count_as_64_not_192_bytes():
    password = "密码" * 30 + "Ab1!"
    assert len(password) == 64 and len(password.encode()) > 72
    assert problems(password) == []


def test_at_least_three_classes():
    assert problems("alllowercase1") != []  # two classes
    assert problems("lowerUPPER12") == []
    assert character_classes("密码abc1") == {"symbol", "lower", "digit"}


def test_user_name_and_card_numbers_are_refused():
    assert problems("xxAlice-2026", username="alice") != []
    assert problems("Pw-9030110000000017", card_numbers=["9030110000000017"]) != []


def test_common_passwords_list_has_over_10000_entries_and_is_checked_case_insensitively():
    assert len(common_passwords()) > 10_000  # the 10,000 of zxcvbn plus Chinese leaks
    assert "password1" in common_passwords()
    # "Password1" passes every other rule (9 characters, 3 classes): only the list refuses it.
    assert len(problems("Password1")) == 1
    assert PasswordPolicy(check_common=False).problems("Password1") == []


def test_recent_passwords_are_refused():
    old = [hash_password(f"Older-Pass-{i}", 4) for i in range(6)]
    assert problems("Older-Pass-0", recent_hashes=old) != []
    assert problems("Older-Pass-5", recent_hashes=old) == []  # the 6th newest is allowed again


def test_expiry_after_90_days_and_0_disables():
    from datetime import UTC, datetime, timedelta

    changed = datetime(2026, 1, 1, tzinfo=UTC)
    assert not POLICY.expired(changed, changed + timedelta(days=90))
    assert POLICY.expired(changed, changed + timedelta(days=90, seconds=1))
    assert not PasswordPolicy(max_age_days=0).expired(changed, changed + timedelta(days=999))


def test_policy_reads_app_config():
    policy = PasswordPolicy.from_config({"PASSWORD_MIN_LENGTH": 12, "PASSWORD_MAX_AGE_DAYS": 0})
    assert policy.min_length == 12 and policy.max_age_days == 0 and policy.max_length == 64


def test_bcrypt_sees_every_character_past_72_bytes():
    base = "密" * 40  # 120 bytes in UTF-8
    hashed = hash_password(base + "A", 4)
    assert check_password(base + "A", hashed)
    assert not check_password(base + "B", hashed)


def test_unicode_is_normalised_before_hashing():
    hashed = hash_password("Caf\u00e9-Pass-1", 4)
    assert check_password("Cafe\u0301-Pass-1", hashed)


REJECTED = [
    "Password123!",
    "Admin@123",
    "P@ssw0rd!",
    "Woaini1314!",
    "Zhangwei1990!",
    "Qwer1234!",
    "1qaz2WSX!",
    "Asdf@1234",
    "Abc@5201314",
    "Qazwsx@2026",
    "Zxcvbn#147258369",
    "@dmin2026!",
    "Wangfang520!",
    "Liwei@19900101",
    "Nihao#900101",
    "Laopo@520520",
    "Baobei!1314520",
    "2026Zhangxiaoming!",
    "Woai#Laogong88",
    "Abcdef#123456",
    "Aaaa1111!!",
    "Qq123456!@#",
    "Dearbook#1",
    "!@#$QWERasdf",
    "1q2w3e4R!",
]

ACCEPTED = [
    "Demo#2026pass",
    "Correct-Horse-9",
    "New-Pass-2026",
    "Fleet-Pass-2026",
    "Tea-Kettle-Oak-7",
    "Xk9#mPq2-Lz",
    "密码很长的句子Ab1",
]


@pytest.mark.parametrize("password", REJECTED)
def test_breached_patterns_and_their_variants_are_refused_as_common(password):
    # One message, the common-password one, whatever the variant (case, l33t, digits around it).
    assert "This is one of the most common passwords; choose another." in problems(password)


@pytest.mark.parametrize("password", ACCEPTED)
def test_passwords_that_are_not_patterns_still_pass(password):
    assert problems(password) == []


def test_minimum_length_is_8_by_default_and_configurable():
    assert PasswordPolicy().min_length == 8
    assert PasswordPolicy.from_config({}).min_length == 8
    from config import Config, load_config

    assert Config.PASSWORD_MIN_LENGTH == 8 and load_config("testing")["PASSWORD_MIN_LENGTH"] == 8
    twelve = PasswordPolicy.from_config({"PASSWORD_MIN_LENGTH": 12})
    assert twelve.problems("Xk9#mPq2-Lz") != []  # 11 characters
    assert twelve.problems("Xk9#mPq2-Lzw") == []


def test_minimum_length_comes_from_the_environment_and_never_drops_below_8():
    from config import ConfigError, load_config

    assert load_config("testing", {"PASSWORD_MIN_LENGTH": "12"})["PASSWORD_MIN_LENGTH"] == 12
    with pytest.raises(ConfigError):
        load_config("testing", {"PASSWORD_MIN_LENGTH": "6"})


def test_an_overlong_password_is_refused_without_the_pattern_checks():
    """The pattern checks grow with the length: a megabyte-long candidate gets the length message only, at once."""
    import time

    started = time.perf_counter()
    problems = PasswordPolicy().problems("a" * 1_000_000)
    assert time.perf_counter() - started < 1.0
    assert len(problems) >= 1 and not any("common" in str(p) for p in problems)
