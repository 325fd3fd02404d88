"""Thin Kafka subscribers and HTTP routes."""
