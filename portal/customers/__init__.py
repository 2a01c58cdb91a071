"""Corporate customers (大客户) and their profile (客户资料维护)."""
