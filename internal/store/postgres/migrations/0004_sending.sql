-- Outbound email (internal/sending), PostgreSQL: identities, configuration
-- sets and account settings as JSON bodies; the suppression list; accepted
-- messages (the composed message is in the blob store) and their
-- recipients. Timestamps are unix milliseconds, 0 for "none". Key columns
-- are COLLATE "C", as SQLite's BINARY.

CREATE TABLE ses_resources (
    account_id TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,
    body       BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, name)
);
CREATE INDEX ses_resources_status ON ses_resources (kind, status, account_id, name);

CREATE TABLE ses_suppressed (
    account_id  TEXT COLLATE "C" NOT NULL,
    email       TEXT COLLATE "C" NOT NULL,
    reason      TEXT COLLATE "C" NOT NULL,
    message_id  TEXT   NOT NULL,
    feedback_id TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, email)
);

CREATE TABLE ses_messages (
    message_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    meta       BYTEA  NOT NULL,
    blob_key   TEXT   NOT NULL,
    recipients BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ses_messages_account_time ON ses_messages (account_id, created_at);

CREATE TABLE ses_recipients (
    message_id      TEXT COLLATE "C" NOT NULL REFERENCES ses_messages (message_id) ON DELETE CASCADE,
    recipient       TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_reply      TEXT   NOT NULL,
    remote_mta      TEXT   NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (message_id, recipient)
);
