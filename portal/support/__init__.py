"""Support staff (客服人员): find users of customers in their own region, reset passwords, unlock."""
