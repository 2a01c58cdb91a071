"""Anomaly alerts on fleet purchases: the table (`models`), what the checks read and its one
definition (`facts`), detection (rules, no Flask; both purchase paths call it), listing and
acknowledgement (`services`, `views`)."""
