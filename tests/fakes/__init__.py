"""Local servers that speak chat platforms' protocols, for tests (127.0.0.1 only)."""
