"""Every v1 event, one module per topic, one discriminated union per topic."""
