"""The reference data the portal ships with: provinces, fuel products and a realistic set of stations.

Regions are the 31 province-level divisions of mainland China with their GB/T 2260 codes. Stations
are fictional but plausible: three per province (two in the capital, one in a second city; three in
the capital for the four municipalities), near the real city centres, with 2026-level prices.
Everything here is plain data; `portal.reference.services.load_reference_data` puts it in the
database. Prices are integer fen per litre.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionData:
    code: str
    name_zh: str
    name_en: str
    #: Licence-plate province abbreviation (京, 沪, 粤 ...), for demo plates.
    plate: str


@dataclass(frozen=True)
class CityData:
    region_code: str
    name_zh: str
    #: City centre, millionths of a degree.
    lat_e6: int
    lon_e6: int
    #: The city's plate letter (京A, 粤B ...).
    plate_letter: str


@dataclass(frozen=True)
class ProductData:
    #: The grade as people say it without the "#": "92" is 92# gasoline, "-10" is -10# diesel.
    code: str
    kind: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class StationData:
    code: str
    name: str
    region_code: str
    city: str
    lat_e6: int
    lon_e6: int
    #: product code -> price in fen per litre
    prices: tuple[tuple[str, int], ...]


REGIONS: tuple[RegionData, ...] = (
    RegionData("11", "北京市", "Beijing", "京"),
    RegionData("12", "天津市", "Tianjin", "津"),
    RegionData("13", "河北省", "Hebei", "冀"),
    RegionData("14", "山西省", "Shanxi", "晋"),
    RegionData("15", "内蒙古自治区", "Inner Mongolia", "蒙"),
    RegionData("21", "辽宁省", "Liaoning", "辽"),
    RegionData("22", "吉林省", "Jilin", "吉"),
    RegionData("23", "黑龙江省", "Heilongjiang", "黑"),
    RegionData("31", "上海市", "Shanghai", "沪"),
    RegionData("32", "江苏省", "Jiangsu", "苏"),
    RegionData("33", "浙江省", "Zhejiang", "浙"),
    RegionData("34", "安徽省", "Anhui", "皖"),
    RegionData("35", "福建省", "Fujian", "闽"),
    RegionData("36", "江西省", "Jiangxi", "赣"),
    RegionData("37", "山东省", "Shandong", "鲁"),
    RegionData("41", "河南省", "Henan", "豫"),
    RegionData("42", "湖北省", "Hubei", "鄂"),
    RegionData("43", "湖南省", "Hunan", "湘"),
    RegionData("44", "广东省", "Guangdong", "粤"),
    RegionData("45", "广西壮族自治区", "Guangxi", "桂"),
    RegionData("46", "海南省", "Hainan", "琼"),
    RegionData("50", "重庆市", "Chongqing", "渝"),
    RegionData("51", "四川省", "Sichuan", "川"),
    RegionData("52", "贵州省", "Guizhou", "贵"),
    RegionData("53", "云南省", "Yunnan", "云"),
    RegionData("54", "西藏自治区", "Xizang", "藏"),
    RegionData("61", "陕西省", "Shaanxi", "陕"),
    RegionData("62", "甘肃省", "Gansu", "甘"),
    RegionData("63", "青海省", "Qinghai", "青"),
    RegionData("64", "宁夏回族自治区", "Ningxia", "宁"),
    RegionData("65", "新疆维吾尔自治区", "Xinjiang", "新"),
)

#: Per province: the capital first, then a second city (the municipalities have only the one).
CITIES: tuple[CityData, ...] = (
    CityData("11", "北京", 39_904_200, 116_407_400, "A"),
    CityData("12", "天津", 39_084_200, 117_200_900, "A"),
    CityData("13", "石家庄", 38_042_800, 114_514_900, "A"),
    CityData("13", "唐山", 39_630_500, 118_180_200, "B"),
    CityData("14", "太原", 37_870_600, 112_548_900, "A"),
    CityData("14", "大同", 40_076_800, 113_300_100, "B"),
    CityData("15", "呼和浩特", 40_842_600, 111_749_000, "A"),
    CityData("15", "包头", 40_657_100, 109_840_400, "B"),
    CityData("21", "沈阳", 41_805_700, 123_431_500, "A"),
    CityData("21", "大连", 38_914_000, 121_614_700, "B"),
    CityData("22", "长春", 43_817_100, 125_323_500, "A"),
    CityData("22", "吉林", 43_837_800, 126_549_400, "B"),
    CityData("23", "哈尔滨", 45_803_800, 126_535_000, "A"),
    CityData("23", "大庆", 46_589_300, 125_103_600, "E"),
    CityData("31", "上海", 31_230_400, 121_473_700, "A"),
    CityData("32", "南京", 32_060_300, 118_796_900, "A"),
    CityData("32", "苏州", 31_298_900, 120_585_300, "E"),
    CityData("33", "杭州", 30_274_100, 120_155_100, "A"),
    CityData("33", "宁波", 29_868_300, 121_544_000, "B"),
    CityData("34", "合肥", 31_820_600, 117_227_200, "A"),
    CityData("34", "芜湖", 31_352_600, 118_433_100, "B"),
    CityData("35", "福州", 26_074_500, 119_296_500, "A"),
    CityData("35", "厦门", 24_479_800, 118_089_400, "D"),
    CityData("36", "南昌", 28_682_000, 115_857_900, "A"),
    CityData("36", "赣州", 25_831_000, 114_935_000, "B"),
    CityData("37", "济南", 36_651_200, 117_120_100, "A"),
    CityData("37", "青岛", 36_067_100, 120_382_600, "B"),
    CityData("41", "郑州", 34_746_600, 113_625_400, "A"),
    CityData("41", "洛阳", 34_619_700, 112_454_000, "C"),
    CityData("42", "武汉", 30_592_800, 114_305_500, "A"),
    CityData("42", "宜昌", 30_691_900, 111_286_500, "E"),
    CityData("43", "长沙", 28_228_200, 112_938_800, "A"),
    CityData("43", "株洲", 27_827_400, 113_134_000, "B"),
    CityData("44", "广州", 23_129_100, 113_264_400, "A"),
    CityData("44", "深圳", 22_543_100, 114_057_900, "B"),
    CityData("45", "南宁", 22_817_000, 108_366_500, "A"),
    CityData("45", "柳州", 24_326_400, 109_428_100, "B"),
    CityData("46", "海口", 20_044_000, 110_199_900, "A"),
    CityData("46", "三亚", 18_252_800, 109_511_900, "B"),
    CityData("50", "重庆", 29_563_000, 106_551_600, "A"),
    CityData("51", "成都", 30_572_800, 104_066_800, "A"),
    CityData("51", "绵阳", 31_467_500, 104_679_600, "B"),
    CityData("52", "贵阳", 26_647_000, 106_630_200, "A"),
    CityData("52", "遵义", 27_725_400, 106_927_200, "C"),
    CityData("53", "昆明", 25_038_900, 102_718_300, "A"),
    CityData("53", "曲靖", 25_490_000, 103_796_200, "D"),
    CityData("54", "拉萨", 29_652_000, 91_172_100, "A"),
    CityData("54", "日喀则", 29_267_000, 88_880_800, "D"),
    CityData("61", "西安", 34_341_600, 108_939_800, "A"),
    CityData("61", "宝鸡", 34_361_900, 107_237_300, "C"),
    CityData("62", "兰州", 36_061_100, 103_834_300, "A"),
    CityData("62", "天水", 34_580_900, 105_724_900, "E"),
    CityData("63", "西宁", 36_617_100, 101_778_200, "A"),
    CityData("63", "格尔木", 36_402_500, 94_903_300, "H"),
    CityData("64", "银川", 38_487_200, 106_230_900, "A"),
    CityData("64", "石嘴山", 38_984_100, 106_384_000, "B"),
    CityData("65", "乌鲁木齐", 43_825_600, 87_616_800, "A"),
    CityData("65", "克拉玛依", 45_579_900, 84_889_200, "J"),
)

PRODUCTS: tuple[ProductData, ...] = (
    ProductData("92", "gasoline", "92#汽油", "92# gasoline"),
    ProductData("95", "gasoline", "95#汽油", "95# gasoline"),
    ProductData("98", "gasoline", "98#汽油", "98# gasoline"),
    ProductData("0", "diesel", "0#柴油", "0# diesel"),
    ProductData("-10", "diesel", "-10#柴油", "-10# diesel"),
    ProductData("-20", "diesel", "-20#柴油", "-20# diesel"),
)

#: Winter-grade diesel is sold where winters need it.
_COLD = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "37", "41", "54", "61", "62", "63", "64", "65"})
_VERY_COLD = frozenset({"15", "22", "23", "54", "63", "65"})

#: 92# price per province in fen per litre (2026 levels; the national guide price differs by
#: province through transport costs and local taxes). Other grades follow by fixed spreads.
_PRICE_92: dict[str, int] = {
    "11": 742, "12": 740, "13": 741, "14": 738, "15": 735, "21": 737, "22": 740, "23": 736,
    "31": 741, "32": 742, "33": 742, "34": 741, "35": 743, "36": 741, "37": 741, "41": 743,
    "42": 745, "43": 740, "44": 747, "45": 750, "46": 776, "50": 751, "51": 754, "52": 757,
    "53": 757, "54": 780, "61": 734, "62": 733, "63": 738, "64": 732, "65": 722,
}  # fmt: skip
_SPREAD = {"95": 53, "98": 133, "0": -25, "-10": 10, "-20": 40}

#: Real road names for the capital-city stations where we know them; elsewhere from a common pool.
_ROADS = {
    "北京": ("朝阳路", "西三环北路", "京开高速"),
    "天津": ("卫津路", "津塘公路", "京津塘高速"),
    "上海": ("沪闵路", "曹安公路", "中环路"),
    "重庆": ("渝北大道", "南坪正街", "沙坪坝"),
    "广州": ("广园东路", "黄埔大道"),
    "深圳": ("深南大道",),
    "成都": ("一环路", "成渝立交"),
    "杭州": ("文三路", "秋涛北路"),
    "南京": ("中山北路", "龙蟠路"),
    "武汉": ("解放大道", "雄楚大道"),
    "西安": ("长安南路", "太华北路"),
}
_ROAD_POOL = (
    "人民路", "解放路", "中山路", "建设路", "胜利路", "和平路", "新华路", "文化路", "长江路",
    "黄河路", "环城北路", "迎宾大道", "工业大道", "滨河路", "光明路", "团结路", "振兴路", "开发区",
)  # fmt: skip


def _products_for(region_code: str, city_index: int, station_index: int) -> list[str]:
    products = ["92", "95"]
    if city_index == 0 and station_index == 0:
        products.append("98")  # the flagship station in the capital sells the premium grade
    products.append("0")
    if region_code in _COLD:
        products.append("-10")
    if region_code in _VERY_COLD:
        products.append("-20")
    return products


def _build_stations() -> tuple[StationData, ...]:
    stations = []
    pool_position = 0
    for region in REGIONS:
        cities = [city for city in CITIES if city.region_code == region.code]
        # Three stations per province: two in the capital and one in the second city, or three
        # in the capital when there is only one city.
        plan = [(0, 0), (0, 1), (1, 0)] if len(cities) > 1 else [(0, 0), (0, 1), (0, 2)]
        for number, (city_index, station_index) in enumerate(plan, start=1):
            city = cities[city_index]
            known = _ROADS.get(city.name_zh, ())
            if station_index < len(known):
                road = known[station_index]
            else:
                road = _ROAD_POOL[pool_position % len(_ROAD_POOL)]
                pool_position += 1
            # Spread stations a few kilometres around the centre, deterministically.
            lat = city.lat_e6 + (number * 7919 % 61 - 30) * 1000
            lon = city.lon_e6 + (number * 104729 % 67 - 33) * 1000
            # A station's prices may be a few fen off the provincial level (local competition).
            premium = (int(region.code) + number) % 4
            prices = tuple(
                (code, _PRICE_92[region.code] + _SPREAD.get(code, 0) + premium)
                for code in _products_for(region.code, city_index, station_index)
            )
            stations.append(
                StationData(
                    code=f"ST{region.code}{number:04d}",
                    name=f"中国石油{city.name_zh}{road}加油站",
                    region_code=region.code,
                    city=city.name_zh,
                    lat_e6=lat,
                    lon_e6=lon,
                    prices=prices,
                )
            )
    return tuple(stations)


STATIONS: tuple[StationData, ...] = _build_stations()


def region_data(code: str) -> RegionData:
    return next(region for region in REGIONS if region.code == code)


def cities_of(region_code: str) -> list[CityData]:
    return [city for city in CITIES if city.region_code == region_code]
