-- Each instance's share of the delivery partitions, relative to the others' (DELIVERY_SHARE): an instance takes
-- ceil(64 x its share / the shares of all instances alive) partitions (adapters/leases.py). A process that delivers
-- beside a dispatcher process on the same machine (NOTIFY_ROLE=all with DELIVERY_HANDOFF_SOCKET) also serves the API
-- and the intake on its core, so it takes a smaller share by default. Instances from before this column count as 1.
ALTER TABLE delivery_instances ADD COLUMN IF NOT EXISTS share real NOT NULL DEFAULT 1;
