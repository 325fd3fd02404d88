-- Issue 12: silences (Alertmanager API v2), recurring maintenance windows, and what they hold back.

-- Alertmanager silences, one organisation each. Matchers in the API's shape: [{name, value, isRegex, isEqual}].
CREATE TABLE IF NOT EXISTS silences (
    id          uuid        PRIMARY KEY,
    org_id      text        NOT NULL,
    matchers    jsonb       NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    created_by  text        NOT NULL,
    comment     text        NOT NULL,
    annotations jsonb       NOT NULL DEFAULT '{}',
    author_sub  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS silences_org ON silences (org_id, ends_at DESC);

-- Recurring maintenance windows: an RFC 5545 RRULE from `starts` (wall-clock time in `timezone`), `duration` long.
CREATE TABLE IF NOT EXISTS maintenance_windows (
    id          text        PRIMARY KEY,
    org_id      text        NOT NULL,
    name        text        NOT NULL,
    rrule       text        NOT NULL,
    starts      timestamp   NOT NULL,
    timezone    text        NOT NULL,
    duration    text        NOT NULL,
    matchers    jsonb       NOT NULL,
    comment     text        NOT NULL DEFAULT '',
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

-- Alerts muted right now by a silence or a window, and why (handlers/mutes.py keeps it; repeats skip them).
CREATE TABLE IF NOT EXISTS alert_mutes (
    org_id      text        NOT NULL,
    fingerprint text        NOT NULL,
    reason      text        NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, fingerprint)
);

-- When an organisation's mutes must be looked at again: the next start or end of one of its silences or windows.
CREATE TABLE IF NOT EXISTS mute_checks (
    org_id      text        PRIMARY KEY,
    due_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS mute_checks_due ON mute_checks (due_at);

-- A notification held back by a silence or window says by what; it waits (next_attempt_at 'infinity') until the
-- mute ends, then it is due at once.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS held_by text;
CREATE INDEX IF NOT EXISTS notifications_held ON notifications (org_id, fingerprint) WHERE held_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS notifications_pending_alert ON notifications (org_id, fingerprint) WHERE state = 'pending';

-- Alerts posted through the Alertmanager API time out like Alertmanager's (resolve_timeout): a firing alert not
-- posted again before `ends_at` is resolved then.
CREATE TABLE IF NOT EXISTS am_alert_ends (
    org_id      text        NOT NULL,
    fingerprint text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    alert       jsonb       NOT NULL,
    PRIMARY KEY (org_id, fingerprint)
);
CREATE INDEX IF NOT EXISTS am_alert_ends_due ON am_alert_ends (ends_at);
