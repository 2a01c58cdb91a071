"""The points programme (积分): earning by configurable rules, redemption and expiry, on the POINTS ledger.

Points live in each card's points account (ledger kind "points", card_id set): balances per card are
what drivers and admins see, and the customer's total is their sum.
"""
