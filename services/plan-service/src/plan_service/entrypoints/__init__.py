"""entrypoints of plan-service."""
