-- The searches run in the web console (internal/console), per account and
-- archive, so that the history page shows them after a restart and on
-- every node. The console keeps the newest few per archive.

CREATE TABLE console_searches (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT    NOT NULL,
    archive_id TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    query      TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    found      INTEGER NOT NULL,
    more       BOOLEAN NOT NULL
);

CREATE INDEX console_searches_archive ON console_searches (account_id, archive_id, seq);
