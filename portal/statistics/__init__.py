"""交易统计 and 积分交易统计: purchases and points grouped by day, month, card, driver, vehicle,
product, station or region, computed with GROUP BY in SQL."""
