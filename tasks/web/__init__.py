"""Fetching from the web: addresses, URLs, feeds, the polite client."""
