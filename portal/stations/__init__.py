"""The station side: terminals, purchase authorization at the pump, points, anomaly alerts."""
