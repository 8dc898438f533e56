-- The email archive (internal/archive): one row per archived message (the
-- raw message is in the blob store), the full-text index, and the searches
-- and exports of the Mail Manager archive API.
--
-- The f_* columns hold header values folded (lower case) for the Mail
-- Manager filters' CONTAINS; meta holds every displayed field as JSON.

CREATE TABLE archive_messages (
    seq             INTEGER NOT NULL PRIMARY KEY, -- the rowid, key of archive_fts
    account_id      TEXT    NOT NULL,
    archive_id      TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    blob_key        TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    stored_size     INTEGER NOT NULL,
    sha256          TEXT    NOT NULL,
    compression     TEXT    NOT NULL,
    malformed       INTEGER NOT NULL,
    has_attachments INTEGER NOT NULL,
    f_subject       TEXT    NOT NULL,
    f_from          TEXT    NOT NULL,
    f_to            TEXT    NOT NULL,
    f_cc            TEXT    NOT NULL,
    f_env_from      TEXT    NOT NULL,
    f_env_to        TEXT    NOT NULL,
    meta            TEXT    NOT NULL,
    UNIQUE (account_id, id)
) STRICT;
CREATE INDEX archive_messages_time ON archive_messages (account_id, archive_id, received_at, id);

-- Contentless: the index keeps tokens, not text. The archive package
-- tokenizes (the same way for PostgreSQL) and stores the tokens separated
-- by spaces, which the ascii tokenizer splits back exactly.
CREATE VIRTUAL TABLE archive_fts USING fts5(
    subject, sender, recipients, body,
    content = '', contentless_delete = 1, tokenize = 'ascii'
);

CREATE TABLE archive_tasks (
    account_id   TEXT    NOT NULL,
    kind         TEXT    NOT NULL, -- search, export
    id           TEXT    NOT NULL,
    archive_id   TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    request      TEXT    NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    submitted_at INTEGER NOT NULL,
    completed_at INTEGER NOT NULL DEFAULT 0,
    total        INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, kind, id)
) STRICT;
CREATE INDEX archive_tasks_list ON archive_tasks (account_id, archive_id, kind, submitted_at, id);
CREATE INDEX archive_tasks_age ON archive_tasks (submitted_at);

CREATE TABLE archive_search_results (
    account_id TEXT    NOT NULL,
    search_id  TEXT    NOT NULL,
    pos        INTEGER NOT NULL,
    message_id TEXT    NOT NULL,
    PRIMARY KEY (account_id, search_id, pos)
) STRICT;
