-- Alerts the intake refused one by one (an Alertmanager group is taken alert by alert), kept with the reason so
-- that the organisation can read them: GET /v1/intake-rejections.
CREATE TABLE IF NOT EXISTS intake_rejections (
    id          bigserial   PRIMARY KEY,
    org_id      text        NOT NULL,
    source      text        NOT NULL,
    alert_index integer     NOT NULL,
    fingerprint text,
    alertname   text,
    reason      text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS intake_rejections_org ON intake_rejections (org_id, id DESC);
