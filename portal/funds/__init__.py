"""Unit-account funds: allocation (单位帐户分配), collection (单位帐户汇总) and deposits (充值).

Every fen moves through `portal.ledger`; this package plans, validates and records the operations.
"""
