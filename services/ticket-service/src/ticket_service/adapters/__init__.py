"""adapters of ticket-service."""
