"""The one home of the vehicle rules: what a mainland licence plate looks like, and a tank's size.

Pure Python (no Flask, no database): the vehicle form and the services both call it, so the page
and the rules cannot disagree. Plates follow GA 36-2018:

- ordinary (蓝牌/黄牌): province abbreviation, the issuing office's letter, then 5 letters or digits
  (I and O are never used, they read as 1 and 0); the last may be 挂 (trailer), 学 (learner) or 警;
- new energy (新能源), 8 characters: small vehicles put D (battery) or F (hybrid) third, then a
  letter or digit and 4 digits (京AD12345); large vehicles end in D or F after 5 digits (京A12345D).
"""

from __future__ import annotations

import re

from portal.cards.controls import normalize_plate

#: The 31 province-level abbreviations used on plates.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # no I, no O
_P = f"[{PROVINCES}][{_LETTER}]"
PLATE_CLASSES: dict[str, re.Pattern] = {
    "ordinary": re.compile(f"{_P}[{_LETTER}0-9]{{4}}[{_LETTER}0-9挂学警]"),
    "new_energy_small": re.compile(f"{_P}[DF][{_LETTER}0-9][0-9]{{4}}"),
    "new_energy_large": re.compile(f"{_P}[0-9]{{5}}[DF]"),
}

#: Largest tank accepted, in millilitres: a heavy truck's twin tanks hold about 1,000 L; 2,000 L
#: leaves room for unusual vehicles and still catches a value typed in millilitres by mistake.
MAX_TANK_ML = 2_000_000


class InvalidPlate(ValueError):
    """Not a mainland licence plate."""


def plate_class(plate: str) -> str | None:
    """Which kind of plate `plate` is after normalising ("ordinary", "new_energy_small",
    "new_energy_large"), or None if it is not a plate."""
    normal = normalize_plate(plate)
    for name, pattern in PLATE_CLASSES.items():
        if pattern.fullmatch(normal):
            return name
    return None


def check_plate(plate: str) -> str:
    """The plate as stored (京a·12345 -> 京A12345); InvalidPlate if it is not one."""
    if plate_class(plate) is None:
        raise InvalidPlate("not a licence plate")
    return normalize_plate(plate)


def tank_problem(tank_ml) -> str | None:
    """None for a usable tank capacity, else "not_positive" or "too_large"."""
    if isinstance(tank_ml, bool) or not isinstance(tank_ml, int) or tank_ml <= 0:
        return "not_positive"
    if tank_ml > MAX_TANK_ML:
        return "too_large"
    return None
