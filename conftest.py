"""Repository-wide pytest configuration: the infrastructure fixtures live in carekit.testing."""

pytest_plugins = ["carekit.testing"]
