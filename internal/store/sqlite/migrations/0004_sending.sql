-- Outbound email (internal/sending): identities, configuration sets and
-- account settings as JSON bodies; the suppression list; accepted messages
-- (the composed message is in the blob store) and their recipients.
-- Timestamps are unix milliseconds, 0 for "none".

CREATE TABLE ses_resources (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, name)
) STRICT;
CREATE INDEX ses_resources_status ON ses_resources (kind, status, account_id, name);

CREATE TABLE ses_suppressed (
    account_id  TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    feedback_id TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, email)
) STRICT;

CREATE TABLE ses_messages (
    message_id TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    meta       BLOB    NOT NULL,
    blob_key   TEXT    NOT NULL,
    recipients INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX ses_messages_account_time ON ses_messages (account_id, created_at);

CREATE TABLE ses_recipients (
    message_id      TEXT    NOT NULL REFERENCES ses_messages (message_id) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_reply      TEXT    NOT NULL,
    remote_mta      TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (message_id, recipient)
) STRICT;
