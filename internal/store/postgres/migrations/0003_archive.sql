-- The email archive (internal/archive): one row per archived message (the
-- raw message is in the blob store) with its full-text index, and the
-- searches and exports of the Mail Manager archive API.
--
-- The f_* columns hold header values folded (lower case) for the Mail
-- Manager filters' CONTAINS; meta holds every displayed field as JSON.
-- tsv is built by the store from the archive package's tokens (no text
-- search configuration is involved, so that SQLite and PostgreSQL index
-- the same words): weight A subject, B sender, C recipients, D body.

CREATE TABLE archive_messages (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      TEXT COLLATE "C" NOT NULL,
    archive_id      TEXT COLLATE "C" NOT NULL,
    id              TEXT COLLATE "C" NOT NULL,
    received_at     BIGINT   NOT NULL,
    blob_key        TEXT     NOT NULL,
    size            BIGINT   NOT NULL,
    stored_size     BIGINT   NOT NULL,
    sha256          TEXT     NOT NULL,
    compression     TEXT     NOT NULL,
    malformed       BOOLEAN  NOT NULL,
    has_attachments BOOLEAN  NOT NULL,
    f_subject       TEXT COLLATE "C" NOT NULL,
    f_from          TEXT COLLATE "C" NOT NULL,
    f_to            TEXT COLLATE "C" NOT NULL,
    f_cc            TEXT COLLATE "C" NOT NULL,
    f_env_from      TEXT COLLATE "C" NOT NULL,
    f_env_to        TEXT COLLATE "C" NOT NULL,
    meta            TEXT     NOT NULL,
    tsv             TSVECTOR NOT NULL,
    UNIQUE (account_id, id)
);
CREATE INDEX archive_messages_time ON archive_messages (account_id, archive_id, received_at, id);
CREATE INDEX archive_messages_tsv ON archive_messages USING gin (tsv);

CREATE TABLE archive_tasks (
    account_id   TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL, -- search, export
    id           TEXT COLLATE "C" NOT NULL,
    archive_id   TEXT COLLATE "C" NOT NULL,
    state        TEXT    NOT NULL,
    request      TEXT    NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    submitted_at BIGINT  NOT NULL,
    completed_at BIGINT  NOT NULL DEFAULT 0,
    total        BIGINT  NOT NULL DEFAULT 0,
    done         BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, kind, id)
);
CREATE INDEX archive_tasks_list ON archive_tasks (account_id, archive_id, kind, submitted_at, id);
CREATE INDEX archive_tasks_age ON archive_tasks (submitted_at);

CREATE TABLE archive_search_results (
    account_id TEXT COLLATE "C" NOT NULL,
    search_id  TEXT COLLATE "C" NOT NULL,
    pos        INTEGER NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, search_id, pos)
);
