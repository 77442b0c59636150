"""reviews: product reviews with 1-5 ratings and an aggregate per product, updated in the same transaction."""
