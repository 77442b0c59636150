"""frontend: the backend-for-frontend. Aggregates storefront views and reads live platform state."""
