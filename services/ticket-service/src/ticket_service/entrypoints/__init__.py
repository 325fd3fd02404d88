"""entrypoints of ticket-service."""
