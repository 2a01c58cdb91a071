"""Import every area's models so that `Base.metadata` (migrations, schema tests) sees all tables."""

from portal.audit.models import AuditEvent  # noqa: F401
from portal.auth.models import LoginSession, User  # noqa: F401
from portal.cards.models import Card  # noqa: F401
from portal.customers.models import Customer  # noqa: F401
from portal.drivers.models import Driver, Vehicle  # noqa: F401
from portal.reference.models import Product, Region, Station, StationPrice  # noqa: F401
