-- assistant-service's tables; the kit's outbox, processed_events, plan_projection and parked are applied first.

-- Knowledge-base articles. The shipped ones are seeded at start (origin 'shipped', with the checksum of the file
-- they came from, so a newer release updates them unless staff changed them); staff changes are stored here.
-- Every change takes the next `revision`, and a removed article stays as a tombstone (`deleted_at`), so every
-- instance applies to its in-memory index exactly the changes it has not seen (woken by NOTIFY articles,
-- polling as a fallback).
CREATE SEQUENCE IF NOT EXISTS article_revisions;
CREATE TABLE IF NOT EXISTS articles (
    language    text        NOT NULL,
    id          text        NOT NULL,
    title       text        NOT NULL,
    url         text        NOT NULL,
    tags        jsonb       NOT NULL DEFAULT '[]',
    body        text        NOT NULL,
    origin      text        NOT NULL CHECK (origin IN ('shipped', 'staff')),
    shipped_sha text,
    deleted_at  timestamptz,
    revision    bigint      NOT NULL DEFAULT nextval('article_revisions'),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL,
    PRIMARY KEY (language, id)
);
CREATE INDEX IF NOT EXISTS articles_revision ON articles (revision);

-- A conversation is one chat thread (platform + workspace + channel + thread) or one console/API session.
CREATE TABLE IF NOT EXISTS conversations (
    id          text        PRIMARY KEY,
    org_id      text        NOT NULL,
    channel     text        NOT NULL CHECK (channel IN ('slack', 'lark', 'api')),
    thread      jsonb,
    started_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conversations_org ON conversations (org_id, updated_at DESC);

-- One question and its answer. The question id is the natural key: a question delivered twice is answered once.
CREATE TABLE IF NOT EXISTS turns (
    question_id     text             PRIMARY KEY,
    answer_id       text             NOT NULL UNIQUE,
    conversation_id text             NOT NULL REFERENCES conversations (id),
    org_id          text             NOT NULL,
    asked_by        text             NOT NULL,
    question        text             NOT NULL,
    answer          text             NOT NULL,
    sources         jsonb            NOT NULL DEFAULT '[]',
    confidence      double precision NOT NULL,
    could_help      boolean          NOT NULL,
    outcome         text             NOT NULL,
    language        text             NOT NULL,
    composer        text,
    asked_at        timestamptz      NOT NULL,
    answered_at     timestamptz      NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_conversation ON turns (conversation_id, asked_at);

-- Helpful / Not helpful / Raise request under an answer, once per button press (its feedback id).
CREATE TABLE IF NOT EXISTS feedback (
    id              text        PRIMARY KEY,
    answer_id       text        NOT NULL,
    conversation_id text        NOT NULL,
    org_id          text        NOT NULL,
    given_by        text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('helpful', 'not_helpful', 'raise_request')),
    given_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback (answer_id);
