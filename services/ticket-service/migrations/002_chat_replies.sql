-- Confirmations owed to a chat thread ("Ticket ... opened"), written with the ticket and delivered by a loop
-- that retries while Slack or Lark refuse, so a rate limit or a crash never loses one.
CREATE TABLE IF NOT EXISTS chat_replies (
    id              bigserial   PRIMARY KEY,
    ticket_id       text        NOT NULL,
    platform        text        NOT NULL,
    channel         text        NOT NULL,   -- Slack channel id or Lark chat id
    thread          text        NOT NULL,   -- Slack thread ts or Lark root message id
    body            text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_replies_due ON chat_replies (next_attempt_at);
