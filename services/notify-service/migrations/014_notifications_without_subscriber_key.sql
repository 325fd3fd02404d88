-- Notifications no longer reference subscribers by a foreign key. Its check, a query per inserted row that locks the
-- subscriber, was a sixth of Postgres's CPU for the intake's one call in requests of 50 alerts (0.042-0.053 against
-- 0.056-0.065 CPU s per 1k, `bench_notify_rows.py 20000 --batch 50 --variant ...`, four alternating pairs;
-- bench/README.md, "the subscriber's key"); and a subscriber deleted while an intake statement of its organisation
-- ran could fail that intake with a foreign-key violation. What the key did is done where a subscriber is deleted
-- (adapters/subscribers.py, `delete`): one transaction that holds the organisation's intake lock, so that no intake
-- queues a notice for it meanwhile, deletes the subscriber's notifications (their dead letters follow by their own
-- key) and then the subscriber. A notice queued for a subscriber that is gone by another path (a repeat racing the
-- delete) is cancelled when a dispatcher finds no target for it, as before.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_subscriber_id_fkey;
