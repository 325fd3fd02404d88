-- Issue 12: the alert a ticket was opened from (the Open ticket button of the alert's chat message).
CREATE TABLE IF NOT EXISTS ticket_alerts (
    ticket_id   text        PRIMARY KEY REFERENCES tickets (id),
    org_id      text        NOT NULL,
    fingerprint text        NOT NULL,
    starts_at   timestamptz NOT NULL
);
