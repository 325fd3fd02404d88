-- Issue 14 (and issue 12's two leftovers): delivery on any number of instances, webhook grouping per subscriber,
-- bounded crash duplicates, Retry-After kept across restarts, re-fire after resolve, cost that does not grow with
-- history. Additive: new columns, tables and indexes; the old natural key and two indexes are replaced.

-- Who a subscriber's messages go to, as a hash (the URL or key itself stays encrypted): subscribers sharing a target
-- share its rate limits, and a target belongs to one of 64 delivery partitions, each owned by one instance at a time.
-- group_by: Alertmanager's semantics (NULL = by cluster, ['...'] = every alert alone, [] = one group); max_alerts:
-- most alerts in one message (NULL = the channel's default).
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS target_key text;
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS part smallint;
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS group_by text[];
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS max_alerts integer;

-- Active-alert state: when the event that set it happened, and which firing episode of the same start it is (an alert
-- that fires again with the same start after it resolved is a new episode, notified at once).
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS event_time timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS episode integer NOT NULL DEFAULT 0;

-- The queue: the partition of the row's target, the instance that claimed it, its alert's episode, and whether the
-- repeat check has looked at a delivered firing notice (it does so once, when its repeat is due).
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS part smallint;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS claimed_by text;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS episode integer NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS repeated boolean NOT NULL DEFAULT false;
-- issue 12's silences and maintenance windows hold notifications back (held_by says by what); claims leave them
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS held_by text;

CREATE UNIQUE INDEX IF NOT EXISTS notifications_natural
    ON notifications (subscriber_id, fingerprint, status, starts_at, severity, round, episode);
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_subscriber_id_fingerprint_status_starts_at_se_key;

-- claims read only their own partitions' due rows; a group's first attempts come with its first due row
CREATE INDEX IF NOT EXISTS notifications_due_part ON notifications (part, next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS notifications_pending_grp ON notifications (grp) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS notifications_sending_part ON notifications (part) WHERE state = 'sending';
DROP INDEX IF EXISTS notifications_due;
DROP INDEX IF EXISTS notifications_sending;
-- repeats read only what is due; the retention job only what it may purge
CREATE INDEX IF NOT EXISTS notifications_repeat_due ON notifications (delivered_at)
    WHERE status = 'firing' AND state = 'delivered' AND NOT repeated;
CREATE INDEX IF NOT EXISTS notifications_finished ON notifications (created_at)
    WHERE state = 'cancelled' OR (state = 'delivered' AND (status = 'resolved' OR repeated));

-- 64 delivery partitions, each leased by one instance at a time (renewed every few seconds; an instance that dies
-- hands its share over when its leases run out), and the instances alive, so that each takes a fair share.
CREATE TABLE IF NOT EXISTS delivery_partitions (
    part        smallint    PRIMARY KEY,
    owner       text,
    lease_until timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO delivery_partitions (part) SELECT generate_series(0, 63) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS delivery_instances (
    id      text        PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
);

-- A target's Retry-After pause, so that a restarted (or another) instance honours it.
CREATE TABLE IF NOT EXISTS target_pauses (
    target_key   text        PRIMARY KEY,
    paused_until timestamptz NOT NULL
);

-- purges in order of age
CREATE INDEX IF NOT EXISTS delivery_attempts_age ON delivery_attempts (attempted_at);
CREATE INDEX IF NOT EXISTS alerts_resolved_age ON alerts (updated_at) WHERE status = 'resolved';
