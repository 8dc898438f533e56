-- Tidings schema, SQLite. Timestamps are unix milliseconds. Text compares
-- byte-wise (BINARY), as the PostgreSQL schema's COLLATE "C" does.

CREATE TABLE accounts (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE access_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    secret     TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_keys_account ON access_keys (account_id, id);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE resources (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    arn        TEXT    NOT NULL DEFAULT '',
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX resources_name_key ON resources (account_id, kind, name) WHERE name <> '';
CREATE INDEX resources_kind ON resources (kind, account_id, id);

CREATE TABLE resource_refs (
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    ref_id     TEXT NOT NULL,
    PRIMARY KEY (account_id, kind, id, ref_id),
    FOREIGN KEY (account_id, kind, id) REFERENCES resources (account_id, kind, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX resource_refs_target ON resource_refs (account_id, ref_id);
CREATE INDEX resource_refs_kind ON resource_refs (kind, account_id, id);

CREATE TABLE claims (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    owner_id  TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX claims_owner ON claims (owner_id, namespace);

CREATE TABLE tags (
    account_id TEXT NOT NULL,
    arn        TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, arn, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE address_list_members (
    list_id    TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list_id, address)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency (
    account_id   TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    response     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
) STRICT;
CREATE INDEX idempotency_created ON idempotency (created_at);
