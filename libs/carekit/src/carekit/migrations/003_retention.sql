-- The retention job (carekit.retention) purges processed-event ids in order of age.
CREATE INDEX IF NOT EXISTS processed_events_age ON processed_events (processed_at);
