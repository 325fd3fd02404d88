-- Claims take the earliest due rows of the partitions an instance holds. With only (part, next_attempt_at), taking
-- them in next_attempt_at order across many partitions meant reading and sorting every pending row of those
-- partitions: a claim of 1,000 rows took 120-155 ms with 100,000 queued, 70-110 ms with 20,000 (bench/README.md,
-- "claims"). In due order, a claim reads about as many entries as it takes (times the instances sharing the queue);
-- the planner still uses notifications_due_part for an instance whose partitions hold few of the queued rows.
CREATE INDEX IF NOT EXISTS notifications_due_at ON notifications (next_attempt_at) WHERE state = 'pending';
