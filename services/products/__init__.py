"""products: the catalogue in PostgreSQL, and the stock read model over the inventory worker's ledger."""
