"""search: BM25 relevance ranking over the catalogue, with category and price filters."""
