"""The customer zone's read side (账户余额 / 账户交易 / 消费交易 / 积分交易查询, 对账单, home figures).

Everything here only reads: balances come from the ledger's read API, movements from its journal,
purchases from the purchase side's `Purchase` rows. Services take a `Scope` (whose rows may be seen) and a
parsed `Filter`; views only parse the query string and render.
"""
