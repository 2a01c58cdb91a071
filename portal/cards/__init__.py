"""Fuel cards: the main card and sub-cards, and the services on them (挂失, 分配, 汇总, 圈存 ...)."""
