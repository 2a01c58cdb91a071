"""Signed webhooks (Standard Webhooks): endpoints a fleet admin registers, events written to an outbox
in the same transaction as the change (events.emit), delivered and retried by the jobs runner
(delivery.py), managed from the portal's pages (views.py)."""
