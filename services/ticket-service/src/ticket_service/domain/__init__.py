"""domain of ticket-service."""
