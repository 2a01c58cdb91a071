"""Points redemption in the portal (积分兑换): fleet admins for any card of the customer, drivers
for their own cards. The points rules and the ledger postings are `portal.points.services`'."""
