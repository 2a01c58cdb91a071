"""Loading and reading reference data. Services flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.reference import data
from portal.reference.models import Product, Region, Station, StationPrice


@dataclass
class LoadCounts:
    """What `load_reference_data` added, per kind; all zero when everything was already there."""

    created: dict[str, int] = field(default_factory=lambda: {"regions": 0, "products": 0, "stations": 0, "prices": 0})

    @property
    def total(self) -> int:
        return sum(self.created.values())

    def __str__(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in self.created.items())


def load_reference_data(session: Session) -> LoadCounts:
    """Add the shipped regions, products, stations and prices that are not in the database yet.

    Idempotent: rows are matched by their natural codes, and existing rows are left as they are, so
    a second run adds nothing and a price or name a system admin has changed is never overwritten.
    """
    counts = LoadCounts()
    regions = {region.code: region for region in session.scalars(select(Region))}
    for item in data.REGIONS:
        if item.code not in regions:
            regions[item.code] = Region(code=item.code, name_zh=item.name_zh, name_en=item.name_en)
            session.add(regions[item.code])
            counts.created["regions"] += 1

    products = set(session.scalars(select(Product.code)))
    for item in data.PRODUCTS:
        if item.code not in products:
            session.add(Product(code=item.code, kind=item.kind, name_zh=item.name_zh, name_en=item.name_en))
            counts.created["products"] += 1
    session.flush()

    stations = {
        station.code: station for station in session.scalars(select(Station).options(selectinload(Station.prices)))
    }
    for item in data.STATIONS:
        station = stations.get(item.code)
        if station is None:
            station = Station(
                code=item.code,
                name=item.name,
                region=regions[item.region_code],
                city=item.city,
                lat_e6=item.lat_e6,
                lon_e6=item.lon_e6,
            )
            session.add(station)
            counts.created["stations"] += 1
        priced = {price.product_code for price in station.prices}
        for product_code, fen_per_litre in item.prices:
            if product_code not in priced:
                station.prices.append(StationPrice(product_code=product_code, price_fen_per_litre=fen_per_litre))
                counts.created["prices"] += 1
    session.flush()
    return counts


def all_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).order_by(Region.code)))


def region_by_code(session: Session, code: str) -> Region | None:
    return session.scalar(select(Region).where(Region.code == code))


def all_products(session: Session) -> list[Product]:
    """Products in the order people expect (92#, 95#, 98#, 0#, -10#, -20#), unknown codes last."""
    shipped = [item.code for item in data.PRODUCTS]
    order = {code: position for position, code in enumerate(shipped)}
    products = session.scalars(select(Product))
    return sorted(products, key=lambda product: (order.get(product.code, len(order)), product.code))


def stations_in_region(session: Session, region_id: int, *, active_only: bool = True) -> list[Station]:
    """A region's stations with their prices loaded, by code."""
    stmt = select(Station).where(Station.region_id == region_id).options(selectinload(Station.prices))
    if active_only:
        stmt = stmt.where(Station.active.is_(True))
    return list(session.scalars(stmt.order_by(Station.code)))


def price_of(session: Session, station_id: int, product_code: str) -> int | None:
    """The current price in fen per litre of a product at a station, or None if not sold there."""
    return session.scalar(
        select(StationPrice.price_fen_per_litre).where(
            StationPrice.station_id == station_id, StationPrice.product_code == product_code
        )
    )
