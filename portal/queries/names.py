"""Display names for ids on a page or in an export, looked up once per id (never one join per row)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cards.models import Card
from portal.drivers.models import Driver, Vehicle
from portal.reference.models import Product, Region, Station


class Names:
    """Lazily filled id -> name maps for cards, drivers, vehicles, stations, regions and products."""

    def __init__(self, session: Session, locale: str = "zh_CN"):
        self._session = session
        self._locale = locale
        self._cache: dict[str, dict] = {}

    def _lookup(self, what: str, ids: Iterable, query) -> dict:
        cache = self._cache.setdefault(what, {})
        missing = {i for i in ids if i is not None and i not in cache}
        if missing:
            for key, value in self._session.execute(query(missing)).all():
                cache[key] = value
            for key in missing:
                cache.setdefault(key, "")
        return cache

    def preload_all(self, customer_id: int) -> None:
        """Every name an export of this customer can need, in six queries (not one per new id)."""
        for kind, key, value, where in (
            ("card", Card.id, Card.number, Card.customer_id == customer_id),
            ("driver", Driver.id, Driver.name, Driver.customer_id == customer_id),
            ("vehicle", Vehicle.id, Vehicle.plate, Vehicle.customer_id == customer_id),
            ("station", Station.id, Station.name, None),
        ):
            query = select(key, value) if where is None else select(key, value).where(where)
            self._cache.setdefault(kind, {}).update(self._session.execute(query).all())
        zh = self._locale.startswith("zh")
        self._cache.setdefault("region", {}).update(
            self._session.execute(select(Region.id, Region.name_zh if zh else Region.name_en)).all()
        )
        self._cache.setdefault("product", {}).update(
            self._session.execute(select(Product.code, Product.name_zh if zh else Product.name_en)).all()
        )

    def preload(self, rows: Iterable, **columns: str) -> None:
        """Fetch every name the rows refer to; `columns` maps a kind (card, driver, ...) to an attribute."""
        rows = list(rows)
        for kind, attribute in columns.items():
            getattr(self, kind + "s")({getattr(row, attribute) for row in rows})

    def cards(self, ids: Iterable[int]) -> dict[int, str]:
        return self._lookup("card", ids, lambda m: select(Card.id, Card.number).where(Card.id.in_(m)))

    def drivers(self, ids: Iterable[int]) -> dict[int, str]:
        return self._lookup("driver", ids, lambda m: select(Driver.id, Driver.name).where(Driver.id.in_(m)))

    def vehicles(self, ids: Iterable[int]) -> dict[int, str]:
        return self._lookup("vehicle", ids, lambda m: select(Vehicle.id, Vehicle.plate).where(Vehicle.id.in_(m)))

    def stations(self, ids: Iterable[int]) -> dict[int, str]:
        return self._lookup("station", ids, lambda m: select(Station.id, Station.name).where(Station.id.in_(m)))

    def regions(self, ids: Iterable[int]) -> dict[int, str]:
        column = Region.name_zh if self._locale.startswith("zh") else Region.name_en
        return self._lookup("region", ids, lambda m: select(Region.id, column).where(Region.id.in_(m)))

    def products(self, codes: Iterable[str]) -> dict[str, str]:
        column = Product.name_zh if self._locale.startswith("zh") else Product.name_en
        return self._lookup("product", codes, lambda m: select(Product.code, column).where(Product.code.in_(m)))

    def name(self, kind: str, id_) -> str:
        if id_ is None:
            return ""
        cached = self._cache.get(kind)
        if cached is not None and id_ in cached:
            return cached[id_]
        return getattr(self, kind + "s")([id_]).get(id_, "")
