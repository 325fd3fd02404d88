-- plan-service's own tables. The kit's outbox, processed_events and plan_projection are applied first.

-- One row per organisation that ever had a plan written; an organisation without a row is on Basic, version 0.
CREATE TABLE IF NOT EXISTS orgs (
    org_id              text        PRIMARY KEY,
    plan                text        NOT NULL DEFAULT 'basic',
    since               timestamptz NOT NULL,
    version             bigint      NOT NULL DEFAULT 0 CHECK (version >= 0),
    timezone            text        NOT NULL DEFAULT 'UTC',
    tam_name            text,
    tam_email           text,
    trial_started_at    timestamptz,
    trial_ends_at       timestamptz,
    trial_return_plan   text,
    trial_status        text CHECK (trial_status IN ('active', 'converted', 'ended', 'superseded')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((trial_status IS NULL) = (trial_started_at IS NULL))
);
CREATE INDEX IF NOT EXISTS orgs_trials_due ON orgs (trial_ends_at) WHERE trial_status = 'active';
CREATE INDEX IF NOT EXISTS orgs_on_legacy ON orgs (plan) WHERE plan LIKE 'legacy\_%';

-- Every change, in version order: who, when, from, to, why.
CREATE TABLE IF NOT EXISTS plan_history (
    org_id         text        NOT NULL REFERENCES orgs (org_id),
    version        bigint      NOT NULL CHECK (version >= 1),
    plan           text        NOT NULL,
    previous_plan  text,
    reason         text        NOT NULL,
    note           text,
    actor_sub      text        NOT NULL,
    actor_role     text        NOT NULL,
    effective_at   timestamptz NOT NULL,
    event_id       text        NOT NULL UNIQUE,
    PRIMARY KEY (org_id, version)
);

-- Requests to move to Premium; at most one pending per organisation.
CREATE TABLE IF NOT EXISTS sales_requests (
    id               text        PRIMARY KEY,
    org_id           text        NOT NULL REFERENCES orgs (org_id),
    requested_plan   text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    note             text,
    requested_by_sub  text       NOT NULL,
    requested_by_role text       NOT NULL,
    created_at       timestamptz NOT NULL,
    decided_at       timestamptz,
    decided_by_sub   text,
    decided_by_role  text,
    decision_reason  text
);
CREATE UNIQUE INDEX IF NOT EXISTS sales_requests_one_pending ON sales_requests (org_id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS sales_requests_by_status ON sales_requests (status, created_at);

-- Retirement warnings sent (or superseded by a later one): the key makes each one happen once per org.
CREATE TABLE IF NOT EXISTS retirement_notices (
    org_id       text        NOT NULL,
    legacy_plan  text        NOT NULL,
    days_before  int         NOT NULL,
    sent_at      timestamptz NOT NULL,
    event_id     text        NOT NULL,
    PRIMARY KEY (org_id, legacy_plan, days_before)
);
