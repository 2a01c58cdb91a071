"""Each role's home page (客户首页 for customers)."""
