-- An organisation's subscribers in every state (the subscriber list, the Alertmanager API's receivers, alerts and
-- status pages) are read by organisation instead of reading every subscriber of every organisation on each call:
-- subscribers_scope holds only active subscribers, so it could not serve them.
CREATE INDEX IF NOT EXISTS subscribers_org ON subscribers (org_id);
