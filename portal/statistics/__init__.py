"""交易统计 and 积分交易统计: purchases and points grouped by day, month, card, driver, vehicle,
product, station or region, computed with GROUP BY in SQL, or from the daily purchase totals
(`rollup`, the read half; the purchase side keeps them). Reads only, built on portal.queries."""
