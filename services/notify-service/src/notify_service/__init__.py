"""notify-service: Alert intake, subscribers by plan tier, reliable delivery to chat channels, ticket updates."""
