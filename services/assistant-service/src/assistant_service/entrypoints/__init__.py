"""Thin entrypoints: HTTP routes, Kafka subscribers, the loop that keeps the index in step with the articles."""
