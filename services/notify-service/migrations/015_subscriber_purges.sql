-- A deleted subscriber's notifications go after it, in batches, instead of in the delete's transaction. That
-- transaction holds the organisation's intake lock (adapters/subscribers.py, `delete`: no intake may queue a notice
-- for the subscriber while it goes), so deleting a long history in it held every alert of the organisation back,
-- and with them the Kafka intake's poll that carried one: 763-805 ms for 200,000 past notifications, 4.2 s for
-- 1,000,000 (bench/bench_subscriber_delete.py). The delete now notes the subscriber here in the same transaction;
-- the purge (handlers/purges.py) deletes its notifications a batch at a time, each batch its own transaction, then
-- the note. A crash in between leaves the note, and the purge finishes on the next start.
CREATE TABLE IF NOT EXISTS subscriber_purges (
    subscriber_id text        PRIMARY KEY,
    org_id        text        NOT NULL,
    deleted_at    timestamptz NOT NULL DEFAULT now()
);
