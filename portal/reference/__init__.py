"""Reference data: regions (provinces), products and stations."""
