"""adapters of plan-service."""
