"""api-gateway: north/south routing of /api/<area> to the service that owns each public route."""
