-- Issue 12: acting on an alert from its message (Acknowledge, Open ticket).

-- Who acknowledged which firing of an alert (a new start, or the same start firing again after it resolved: a new
-- episode, is a new firing); the repeat scheduler skips them.
CREATE TABLE IF NOT EXISTS alert_acks (
    org_id               text        NOT NULL,
    fingerprint          text        NOT NULL,
    starts_at            timestamptz NOT NULL,
    episode              integer     NOT NULL DEFAULT 0,
    acknowledged_by      text        NOT NULL,
    acknowledged_by_name text,
    acknowledged_at      timestamptz NOT NULL,
    PRIMARY KEY (org_id, fingerprint, starts_at, episode)
);

-- Tickets opened from an alert (TicketOpened.alert); told_at: when ticket-service was told the alert resolved.
CREATE TABLE IF NOT EXISTS alert_tickets (
    org_id      text        NOT NULL,
    fingerprint text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    ticket_id   text        NOT NULL,
    link        text        NOT NULL,
    opened_at   timestamptz NOT NULL,
    told_at     timestamptz,
    PRIMARY KEY (org_id, fingerprint, starts_at, ticket_id)
);
CREATE INDEX IF NOT EXISTS alert_tickets_untold ON alert_tickets (org_id, fingerprint) WHERE told_at IS NULL;
