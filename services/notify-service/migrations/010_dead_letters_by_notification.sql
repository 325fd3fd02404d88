-- A notification's dead letters are deleted with it (ON DELETE CASCADE), and Postgres finds them by their
-- notification: with no index on it, each notification the retention job purged read every dead letter ever kept
-- (they are kept for good, re-drivable): ten passes of three purged after 20,000 dead letters read 600,000 rows
-- (test_notify_scale.py, `test_purging_delivered_notifications_does_not_read_the_dead_letters`).
CREATE INDEX IF NOT EXISTS dead_letters_notification ON dead_letters (notification_id);
