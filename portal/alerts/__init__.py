"""Anomaly alerts on fleet purchases: detection (rules, no Flask), listing and acknowledgement."""
