-- The look-ups of an alert's firing notice for a subscriber (subscriber, fingerprint, start, status 'firing') are
-- served by the natural key's unique index, whose leading columns are those (subscriber, fingerprint, status,
-- start), as EXPLAIN shows for every one of them. The partial index notifications_firing held the same entries a
-- second time, written on each insert of a firing notice and on each change of its state: marking notifications
-- delivered cost Postgres 0.052-0.064 CPU s per 1,000 without it, 0.068-0.074 with it
-- (`bench_notify_rows.py --variant`, bench/README.md, "One firing index").
DROP INDEX IF EXISTS notifications_firing;
