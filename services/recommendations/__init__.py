"""recommendations: customers-also-bought from the analytics read model, falling back to catalogue similarity."""
