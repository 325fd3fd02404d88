"""Every service's HTTP API, tested from its OpenAPI document (bounds on every input; schemathesis)."""
