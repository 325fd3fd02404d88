-- plan-service's own tables arrive with its features; the kit's outbox, inbox and plan projection are applied first.
CREATE TABLE IF NOT EXISTS service_info (name text PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT now());
