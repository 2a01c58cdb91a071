from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class Driver(Base):
    """A driver of a customer's fleet; may have a driver login (see auth.User.driver_id)."""

    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The fleet's own reference for the driver (工号), free text.
    employee_no: Mapped[str] = mapped_column(String(32), default="")
    #: Driving licence number (驾驶证号).
    licence_no: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(String(256), default="")
    deactivated_at: Mapped[datetime | None]


class Vehicle(Base):
    """A vehicle of a customer's fleet."""

    __tablename__ = "vehicles"
    __table_args__ = (
        UniqueConstraint("customer_id", "plate"),
        CheckConstraint("tank_ml > 0", name="tank_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: Licence plate, e.g. 京A12345.
    plate: Mapped[str] = mapped_column(String(16))
    #: Tank capacity in millilitres (litres are never floats).
    tank_ml: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Make and model, e.g. "东风天龙 KL".
    model: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(256), default="")
    deactivated_at: Mapped[datetime | None]
