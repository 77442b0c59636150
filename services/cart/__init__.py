"""cart: one basket per user in Redis, with a TTL refreshed on every change."""
