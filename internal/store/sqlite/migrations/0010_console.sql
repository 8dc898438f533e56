-- The web console's sessions (internal/console). id_hash is the SHA-256
-- of the session cookie's random ID, so that the table holds no usable
-- cookie. A session ends seen_at + the idle timeout or created_at + the
-- absolute one; the console deletes ended sessions as it goes.

CREATE TABLE console_sessions (
    id_hash       TEXT    NOT NULL PRIMARY KEY,
    account_id    TEXT    NOT NULL,
    access_key_id TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    csrf          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    seen_at       INTEGER NOT NULL
);

CREATE INDEX console_sessions_seen ON console_sessions (seen_at);
CREATE INDEX console_sessions_created ON console_sessions (created_at);
