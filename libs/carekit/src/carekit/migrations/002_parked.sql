-- Records a background loop isolated because they can never succeed (or failed with the same bug three times):
-- an outbox row too large for its topic, a ticket whose breach event no longer validates, an organisation whose
-- trial cannot be ended... Each loop skips its parked keys; an operator lists them (GET /v1/ops/parked) and
-- re-drives one (POST /v1/ops/parked/{id}/redrive) once the cause is fixed. A record that fails again is parked
-- again, so the history stays.
CREATE TABLE IF NOT EXISTS parked (
    id          bigserial   PRIMARY KEY,
    loop        text        NOT NULL,
    key         text        NOT NULL,
    reason      text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    redriven_at timestamptz,
    redriven_by text
);
CREATE UNIQUE INDEX IF NOT EXISTS parked_waiting ON parked (loop, key) WHERE redriven_at IS NULL;
