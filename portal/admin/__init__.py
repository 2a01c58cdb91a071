"""System administration pages (sysadmin only)."""
