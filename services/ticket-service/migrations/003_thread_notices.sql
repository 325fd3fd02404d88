-- Short answers the bot gives in a ticket's chat thread at most once per period (issue 13): e.g. telling an
-- Enterprise customer that replies in the thread do not reach support on their plan. Keyed by the thread.
CREATE TABLE IF NOT EXISTS thread_notices (
    thread_key  text        NOT NULL,   -- platform|workspace|channel|thread
    kind        text        NOT NULL,
    sent_at     timestamptz NOT NULL,
    PRIMARY KEY (thread_key, kind)
);
