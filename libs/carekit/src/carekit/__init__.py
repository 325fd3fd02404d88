"""Shared building blocks without domain rules: settings, identity, db, outbox, consumers, projection."""
