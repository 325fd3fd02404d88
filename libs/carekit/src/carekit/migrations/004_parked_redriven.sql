-- The retention job (carekit.retention) purges parked records re-driven before its cut-off, oldest re-drive first:
-- they are re-driven in no order of their ids, and those never re-driven are kept for good, so a purge in id order
-- read every record still waiting on each pass. Re-drives are an operator's doing: the index costs no hot path.
CREATE INDEX IF NOT EXISTS parked_redriven ON parked (redriven_at) WHERE redriven_at IS NOT NULL;
