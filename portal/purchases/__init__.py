"""The purchase side: fuel purchases at the pump (online, `authorization`), uploaded from the chip
(offline, `offline`) and refunded (`refunds`); their rows and daily totals (`models`, `rollup`).
Rules and SQLAlchemy only, no Flask; the terminal API (portal.stations) and card sync
(portal.chips) call in. Points and alerts are their own areas' rules, called from the booking."""
