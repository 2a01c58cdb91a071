"""Plausible Chinese names, companies, credit codes, phones and plates for the demo world.

Every function takes a `random.Random`, so the same seed always builds the same world.
"""

from __future__ import annotations

import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩俊峰鑫亮飞凯波海林欣晨怡佳悦子豪博睿"

_TRADE_NAMES = (
    "顺达", "恒通", "鑫源", "宏远", "安泰", "华运", "通达", "远航", "金桥", "中盛", "锦程", "瑞丰",
    "长风", "永信", "昌隆", "东方", "汇通", "嘉禾", "广源", "天恒",
)  # fmt: skip
#: Industry wording and whether its vehicles are mostly trucks (diesel) or cars/vans (gasoline).
_TRADES = (
    ("物流有限公司", "truck"),
    ("运输有限公司", "truck"),
    ("冷链物流有限公司", "truck"),
    ("建设工程有限公司", "truck"),
    ("城市配送有限公司", "van"),
    ("商贸有限公司", "van"),
    ("出租汽车有限公司", "car"),
    ("环境卫生服务有限公司", "truck"),
)
_DISTRICTS = ("经济技术开发区", "高新区", "工业园区", "新区")
_STREETS = ("建设路", "人民路", "工业大道", "物流园路", "振兴路", "迎宾大道")

#: GB 32100-2015 character set (no I, O, S, V, Z) and position weights 3**i mod 31.
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: GB 11714 organisation code weights.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
#: Plate serials use digits and letters except I and O (mistaken for 1 and 0).
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def company(rng: random.Random, city: str, fleet: str) -> str:
    """A company name in `city` whose trade fits its fleet type ("truck", "van" or "car")."""
    trade = rng.choice([trade for trade, kind in _TRADES if kind == fleet])
    return f"{city}{rng.choice(_TRADE_NAMES)}{trade}"


def address(rng: random.Random, province: str, city: str) -> str:
    prefix = province if province.endswith("市") else f"{province}{city}市"
    return f"{prefix}{rng.choice(_DISTRICTS)}{rng.choice(_STREETS)}{rng.randint(1, 399)}号"


def mobile(rng: random.Random) -> str:
    return (
        rng.choice(("135", "136", "138", "139", "150", "158", "186", "188", "177")) + f"{rng.randint(0, 10**8 - 1):08d}"
    )


def _org_code_check(body: str) -> str:
    total = sum(int(ch, 36) * weight for ch, weight in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_check(first17: str) -> str:
    """The check character of a unified social credit code (统一社会信用代码), GB 32100-2015."""
    total = sum(CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    return len(code) == 18 and all(ch in CREDIT_CODE_CHARS for ch in code) and credit_code_check(code[:17]) == code[17]


def credit_code(rng: random.Random, region_code: str) -> str:
    """A well-formed code of an enterprise (91) registered in `region_code`'s capital."""
    division = f"{region_code}01{rng.randint(1, 12):02d}"
    org_body = f"{rng.randint(10**7, 10**8 - 1)}"
    first17 = f"91{division}{org_body}{_org_code_check(org_body)}"
    return first17 + credit_code_check(first17)


def plate(rng: random.Random, province: str, letter: str) -> str:
    """A licence plate as stored, e.g. 京A12345 (shown as 京A·12345)."""
    serial = [rng.choice("0123456789") for _ in range(5)]
    if rng.random() < 0.4:
        serial[rng.randrange(5)] = rng.choice(_PLATE_LETTERS)
    return f"{province}{letter}{''.join(serial)}"
