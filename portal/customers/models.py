from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.db import Base, add_foreign_key
from portal.ledger.models import Account
from portal.reference.models import Region


class Customer(Base):
    """A corporate fleet customer: owns one main card (carrying the unit account) and many sub-cards."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Legal name; read-only for the customer, staff may change it.
    name: Mapped[str] = mapped_column(String(128))
    #: 统一社会信用代码, 18 characters; read-only for the customer.
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    invoice_title: Mapped[str] = mapped_column(String(128), default="")
    invoice_tax_number: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Mobile of the main contact (for SMS notices).
    mobile: Mapped[str] = mapped_column(String(32), default="")
    #: 财务联系人: who receives statements and invoices.
    finance_contact_name: Mapped[str] = mapped_column(String(64), default="")
    finance_phone: Mapped[str] = mapped_column(String(32), default="")
    finance_email: Mapped[str] = mapped_column(String(254), default="")
    postcode: Mapped[str] = mapped_column(String(6), default="")
    #: VAT invoice details (开票信息) besides title and tax number: address and phone, bank and account.
    invoice_address: Mapped[str] = mapped_column(String(256), default="")
    invoice_phone: Mapped[str] = mapped_column(String(32), default="")
    invoice_bank: Mapped[str] = mapped_column(String(128), default="")
    invoice_bank_account: Mapped[str] = mapped_column(String(64), default="")
    profile_updated_at: Mapped[datetime | None]

    region: Mapped[Region] = relationship()


# The ledger's owner columns point here; the ledger itself knows no product table.
add_foreign_key(Account, "customer_id", "customers.id")
#: A customer's accounts of one ledger (the journal pages, the home page): without it every such
#: page read all the accounts in the country (migration 0019).
Index("ix_ledger_accounts_customer_ledger", Account.customer_id, Account.ledger)
