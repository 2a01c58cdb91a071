"""Import every area's models so that `Base.metadata` (migrations, schema tests) sees all tables."""

import portal.alerts.models  # noqa: F401
import portal.apikeys.models  # noqa: F401
import portal.audit.models  # noqa: F401
import portal.auth.models  # noqa: F401
import portal.cards.models  # noqa: F401
import portal.chips.models  # noqa: F401
import portal.customers.models  # noqa: F401
import portal.drivers.models  # noqa: F401
import portal.funds.models  # noqa: F401
import portal.jobs.models  # noqa: F401
import portal.ledger.models  # noqa: F401
import portal.notify.models  # noqa: F401
import portal.points.models  # noqa: F401
import portal.purchases.models  # noqa: F401
import portal.reference.models  # noqa: F401
import portal.stations.models  # noqa: F401
import portal.webhooks.models  # noqa: F401
