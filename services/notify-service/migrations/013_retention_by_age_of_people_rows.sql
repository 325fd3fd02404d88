-- The retention job reads the rows people write (silences, acknowledgements, alert-ticket links) oldest first by an
-- index on their age, as it reads every other table it purges (app.py, RETENTION): with none, each pass read each of
-- these tables about once, whatever it deleted (ten passes of three rows after 20,000 kept: 200,030-200,165 read
-- each; test_notify_scale.py, `test_retention_batches_read_about_what_they_delete_...`).
CREATE INDEX IF NOT EXISTS silences_ends ON silences (ends_at);
CREATE INDEX IF NOT EXISTS alert_acks_age ON alert_acks (acknowledged_at);
CREATE INDEX IF NOT EXISTS alert_tickets_told ON alert_tickets (told_at) WHERE told_at IS NOT NULL;
