-- Tidings schema, PostgreSQL. Timestamps are unix milliseconds. Text compares
-- byte-wise: key and name columns are COLLATE "C", as SQLite's BINARY.

CREATE TABLE accounts (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE access_keys (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret     TEXT    NOT NULL,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX access_keys_account ON access_keys (account_id, id);

CREATE TABLE settings (
    key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE resources (
    account_id TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL DEFAULT '',
    arn        TEXT COLLATE "C" NOT NULL DEFAULT '',
    body       BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (account_id, kind, id)
);
CREATE UNIQUE INDEX resources_name_key ON resources (account_id, kind, name) WHERE name <> '';
CREATE INDEX resources_kind ON resources (kind, account_id, id);

CREATE TABLE resource_refs (
    account_id TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    ref_id     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, kind, id, ref_id),
    FOREIGN KEY (account_id, kind, id) REFERENCES resources (account_id, kind, id) ON DELETE CASCADE
);
CREATE INDEX resource_refs_target ON resource_refs (account_id, ref_id);
CREATE INDEX resource_refs_kind ON resource_refs (kind, account_id, id);

CREATE TABLE claims (
    namespace TEXT COLLATE "C" NOT NULL,
    key       TEXT COLLATE "C" NOT NULL,
    owner_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX claims_owner ON claims (owner_id, namespace);

CREATE TABLE tags (
    account_id TEXT COLLATE "C" NOT NULL,
    arn        TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, arn, key)
);

CREATE TABLE address_list_members (
    list_id    TEXT COLLATE "C" NOT NULL,
    address    TEXT COLLATE "C" NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (list_id, address)
);

CREATE TABLE idempotency (
    account_id   TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    request_hash TEXT    NOT NULL,
    response     BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
