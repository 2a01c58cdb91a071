from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, add_foreign_key
from portal.ledger.models import Account


class Region(Base):
    """A province-level region (省公司). Customers and support staff belong to one."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: GB/T 2260 two-digit province code, e.g. "11" for Beijing.
    code: Mapped[str] = mapped_column(String(2), unique=True)
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(64))

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class Product(Base):
    """A fuel grade sold at stations, e.g. 92# gasoline."""

    __tablename__ = "products"
    __table_args__ = (CheckConstraint("kind IN ('gasoline', 'diesel', 'other')", name="kind"),)

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(64))

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class Station(Base):
    """A fuel station with its products and prices."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    city: Mapped[str] = mapped_column(String(64))
    #: Position for the "too far apart" anomaly check; millionths of a degree, so integers.
    lat_e6: Mapped[int | None]
    lon_e6: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    region: Mapped[Region] = relationship()
    prices: Mapped[list[StationPrice]] = relationship(back_populates="station", cascade="all, delete-orphan")


class StationPrice(Base):
    """The current price of one product at one station, in fen per litre."""

    __tablename__ = "station_prices"
    __table_args__ = (
        UniqueConstraint("station_id", "product_code"),
        CheckConstraint("price_fen_per_litre > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    price_fen_per_litre: Mapped[int]

    station: Mapped[Station] = relationship(back_populates="prices")
    product: Mapped[Product] = relationship()


# A station's own system accounts (portal.ledger.models.STATION_KINDS) point here; the ledger knows no
# product table.
add_foreign_key(Account, "station_id", "stations.id")
