"""Reference data: complete, plausible, and loaded idempotently."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.reference import data
from portal.reference.models import Product, Region, Station, StationPrice
from portal.reference.services import (
    all_products,
    all_regions,
    load_reference_data,
    price_of,
    region_by_code,
    stations_in_region,
)


def _counts(session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (Region, Product, Station, StationPrice)
    }


def test_shipped_data_is_complete_and_plausible():
    codes = [region.code for region in data.REGIONS]
    assert len(codes) == 31 == len(set(codes))
    assert {"11", "31", "44", "54", "65"} <= set(codes)
    assert {p.code for p in data.PRODUCTS} >= {"92", "95", "98", "0", "-10"}
    station_codes = [station.code for station in data.STATIONS]
    assert len(station_codes) == len(set(station_codes))
    for region in data.REGIONS:
        in_region = [s for s in data.STATIONS if s.region_code == region.code]
        assert len(in_region) >= 3, region.code
        for station in in_region:
            assert station.code.startswith("ST" + region.code)
            assert station.name.startswith("中国石油") and station.name.endswith("加油站")
            # Inside mainland China's bounding box, as integers.
            assert 18_000_000 <= station.lat_e6 <= 54_000_000 and 73_000_000 <= station.lon_e6 <= 135_000_000
            prices = dict(station.prices)
            assert {"92", "95", "0"} <= set(prices)
            assert all(isinstance(fen, int) for fen in prices.values())
            assert 700 <= prices["92"] <= 800
            assert 680 <= prices["0"] <= 780
            assert prices["92"] < prices["95"] < prices.get("98", 10_000)


def test_load_creates_everything_once(session):
    counts = load_reference_data(session)
    session.commit()
    assert counts.created == {
        "regions": 31,
        "products": len(data.PRODUCTS),
        "stations": len(data.STATIONS),
        "prices": sum(len(s.prices) for s in data.STATIONS),
    }
    before = _counts(session)
    assert before["regions"] == 31

    again = load_reference_data(session)
    session.commit()
    assert again.total == 0
    assert _counts(session) == before


def test_load_never_overwrites_an_admins_change(session):
    load_reference_data(session)
    station = session.scalar(select(Station).where(Station.code == "ST110001"))
    price = next(p for p in station.prices if p.product_code == "92")
    price.price_fen_per_litre = 799
    station.name = "中国石油北京朝阳路加油站（改造中）"
    session.commit()

    load_reference_data(session)
    session.commit()
    assert price_of(session, station.id, "92") == 799
    assert session.get(Station, station.id).name.endswith("（改造中）")


def test_load_fills_in_what_is_missing(session):
    load_reference_data(session)
    station = session.scalar(select(Station).where(Station.code == "ST440001"))
    station.prices.clear()
    session.commit()

    counts = load_reference_data(session)
    session.commit()
    assert counts.created["prices"] == len(next(s for s in data.STATIONS if s.code == "ST440001").prices)
    assert counts.created["stations"] == 0
    assert price_of(session, station.id, "92") is not None


def test_readers(session):
    load_reference_data(session)
    session.commit()
    assert [r.code for r in all_regions(session)][:3] == ["11", "12", "13"]
    beijing = region_by_code(session, "11")
    assert beijing.name("zh_CN") == "北京市" and beijing.name("en") == "Beijing"
    assert region_by_code(session, "99") is None
    assert [p.code for p in all_products(session)] == [p.code for p in data.PRODUCTS]
    stations = stations_in_region(session, beijing.id)
    assert [s.code for s in stations] == ["ST110001", "ST110002", "ST110003"]
    assert stations[0].prices
    assert price_of(session, stations[0].id, "-20") is None  # Beijing sells no -20# diesel


def test_cli_load(runner):
    first = runner.invoke(args=["reference", "load"])
    assert first.exit_code == 0, first.output
    assert "31 regions" in first.output
    second = runner.invoke(args=["reference", "load"])
    assert second.exit_code == 0
    assert "nothing added" in second.output
