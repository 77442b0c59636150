"""analytics: revenue, units per product and co-purchases in Redis, updated atomically once per event."""
