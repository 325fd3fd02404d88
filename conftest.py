"""Repository-wide pytest configuration: the fixtures live in carekit_testing (a dev-only package)."""

pytest_plugins = ["carekit_testing"]
