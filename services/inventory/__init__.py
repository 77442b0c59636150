"""inventory: the stock ledger. Consumes order.created and commits stock once per order line."""
