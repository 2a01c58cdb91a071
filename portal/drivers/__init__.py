"""Drivers and vehicles of a fleet (车队司机管理)."""
