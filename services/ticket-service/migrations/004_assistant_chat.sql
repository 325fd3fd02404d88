-- AI chat (issue 10): the questions ticket-service passed to the assistant from chat threads (the question event
-- is written to the outbox in the same transaction), the answers it heard back on chat.events.v1, and the
-- conversation a ticket was raised from.
CREATE TABLE IF NOT EXISTS chat_turns (
    question_id     text        PRIMARY KEY,   -- stable per chat message: a platform's retry is the same question
    conversation_id text        NOT NULL,      -- one chat thread
    org_id          text        NOT NULL,
    platform        text        NOT NULL,
    workspace       text        NOT NULL,
    channel         text        NOT NULL,
    thread_ts       text        NOT NULL,
    asked_by        text        NOT NULL,
    question        text        NOT NULL,
    asked_at        timestamptz NOT NULL,
    answer_id       text,
    answer          text,
    sources         jsonb,
    could_help      boolean,
    answered_at     timestamptz
);
CREATE INDEX IF NOT EXISTS chat_turns_conversation ON chat_turns (conversation_id, asked_at);
CREATE INDEX IF NOT EXISTS chat_turns_answer ON chat_turns (answer_id);

CREATE TABLE IF NOT EXISTS ticket_conversations (
    ticket_id       text        PRIMARY KEY REFERENCES tickets (id),
    conversation_id text        NOT NULL
);
