"""domain of plan-service."""
