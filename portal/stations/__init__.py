"""The station side: terminals, their API keys, and the terminal API (the purchases it books are
portal.purchases'), points redemption at the pump, demo traffic."""
