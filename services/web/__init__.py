"""web service: the server-rendered storefront, cluster console and platform view."""
