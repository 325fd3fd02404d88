-- Notification contacts and notices (issue 13).

-- An organisation's contacts as its owners set them; `default_email` is the e-mail of the customer who last changed
-- something for it (plan, trial, sales request, settings, contacts), used where an address was never set.
-- An organisation without a row has nothing set and no default yet.
CREATE TABLE IF NOT EXISTS org_contacts (
    org_id          text        PRIMARY KEY,
    owner_email     text,
    technical_email text,
    chat            jsonb,
    unsubscribed    text[]      NOT NULL DEFAULT '{}',
    default_email   text,
    version         bigint      NOT NULL DEFAULT 0 CHECK (version >= 0),
    updated_at      timestamptz,
    updated_by_sub  text,
    updated_by_role text
);

-- A pending Premium request can be withdrawn by the customer; the requester's address is kept for sales.
ALTER TABLE sales_requests DROP CONSTRAINT IF EXISTS sales_requests_status_check;
ALTER TABLE sales_requests ADD CONSTRAINT sales_requests_status_known
    CHECK (status IN ('pending', 'approved', 'declined', 'withdrawn'));
ALTER TABLE sales_requests ADD COLUMN IF NOT EXISTS requested_by_email text;

-- "Your trial ends in N days", once per trial: the key makes it happen once.
CREATE TABLE IF NOT EXISTS trial_reminders (
    org_id           text        NOT NULL,
    trial_started_at timestamptz NOT NULL,
    days_before      int         NOT NULL,
    sent_at          timestamptz NOT NULL,
    event_id         text        NOT NULL,
    PRIMARY KEY (org_id, trial_started_at, days_before)
);
