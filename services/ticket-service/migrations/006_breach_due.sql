-- The breach scan's tickets: those still owed a first response by their due time. The index it had kept every
-- ticket answered or resolved in time (their breached_at stays NULL for good), so once due each was read again on
-- every scan, every few seconds: ten scans after 10,000 tickets answered in time read 100,075 entries even planned
-- by key; now 75 (test_ticket_scale.py). This one holds only the tickets the scan may still breach (the scan's
-- own conditions).
CREATE INDEX IF NOT EXISTS tickets_breach_due ON tickets (response_due_at)
    WHERE breached_at IS NULL AND response_due_at IS NOT NULL
      AND (first_response_at IS NULL OR first_response_at > response_due_at)
      AND (resolved_at IS NULL OR resolved_at > response_due_at);
DROP INDEX IF EXISTS tickets_awaiting_response;
