-- notify-service's own tables. Migrations only add (tests/contract/test_hygiene.py refuses destructive statements).
-- A development database made before this file lost its DROP TABLE line stops start-up (checksum changed):
-- development databases are throwaway, recreate it (see docs/skeleton.md, "Migrations").

-- Subscribers: where an organisation's alerts go. Secrets live only in `secret` (Fernet-encrypted JSON).
CREATE TABLE subscribers (
    id              text        PRIMARY KEY,
    org_id          text        NOT NULL,
    project_id      text        NOT NULL,
    cluster_id      text,
    type            text        NOT NULL,
    name            text        NOT NULL,
    severities      text[],
    rules           text[],
    secret          bytea       NOT NULL,
    display         jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
    state_reason    text,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscribers_scope ON subscribers (org_id, project_id) WHERE state = 'active';

-- Active-alert state: the latest we know of each alert.
CREATE TABLE alerts (
    org_id      text        NOT NULL,
    fingerprint text        NOT NULL,
    status      text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    alert       jsonb       NOT NULL,
    event_id    text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, fingerprint)
);
CREATE INDEX alerts_firing ON alerts (updated_at) WHERE status = 'firing';

-- The durable notification queue. The natural key (subscriber, fingerprint, status, start, severity, round)
-- makes intake idempotent; `grp` is the subscriber + cluster that grouping merges on.
CREATE TABLE notifications (
    id              bigserial   PRIMARY KEY,
    subscriber_id   text        NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    org_id          text        NOT NULL,
    channel         text        NOT NULL,
    grp             text        NOT NULL,
    fingerprint     text        NOT NULL,
    status          text        NOT NULL,
    severity        text        NOT NULL,
    starts_at       timestamptz NOT NULL,
    round           integer     NOT NULL DEFAULT 0,
    alert           jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'delivered', 'dead', 'cancelled')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    window_from     timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscriber_id, fingerprint, status, starts_at, severity, round)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_sending ON notifications (id) WHERE state = 'sending';
CREATE INDEX notifications_firing ON notifications (subscriber_id, fingerprint, starts_at) WHERE status = 'firing';

-- Every delivery attempt (one message may carry several notifications), for the delivery log.
CREATE TABLE delivery_attempts (
    id               bigserial   PRIMARY KEY,
    org_id           text        NOT NULL,
    subscriber_id    text        NOT NULL,
    channel          text        NOT NULL,
    notification_ids bigint[]    NOT NULL,
    fingerprints     text[]      NOT NULL,
    attempt          integer     NOT NULL,
    outcome          text        NOT NULL,
    http_status      integer,
    detail           text,
    latency_ms       double precision NOT NULL,
    attempted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_attempts_org ON delivery_attempts (org_id, id DESC);

-- Notifications that failed for good, kept for operators to read and re-drive.
CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    notification_id bigint      NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    subscriber_id   text        NOT NULL,
    org_id          text        NOT NULL,
    channel         text        NOT NULL,
    fingerprint     text        NOT NULL,
    attempts        integer     NOT NULL,
    reason          text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    redriven_at     timestamptz,
    redriven_by     text
);

-- Ticket updates and TAM emails: a durable queue keyed by the ticket event that caused them.
CREATE TABLE im_messages (
    id              bigserial   PRIMARY KEY,
    event_id        text        NOT NULL,
    kind            text        NOT NULL,
    org_id          text        NOT NULL,
    target          jsonb       NOT NULL,
    body            jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (event_id, kind)
);
CREATE INDEX im_messages_due ON im_messages (next_attempt_at) WHERE state = 'pending';
