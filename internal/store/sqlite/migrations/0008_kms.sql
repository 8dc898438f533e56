-- Keys Tidings manages (internal/kms) and the archive's encryption.
--
-- kms_keys: one row per key of an account; the ARN is built from the
-- region, the account and id. kms_key_versions: the key material of each
-- version, AES-256, wrapped (AES-256-GCM) by the master key, which is never
-- in the database. Rotation adds a version and makes it current; old
-- versions stay, to unwrap what they wrapped.
--
-- kms_data_keys: data keys (AES-256) wrapped by a version of a key, each
-- for one owner (an archive: "archive/<id>"); an owner gets a new one
-- when the key rotates.
--
-- archive_messages.data_key_id: the data key a message's blob is
-- encrypted under, '' for a message stored compressed only.

CREATE TABLE kms_keys (
    account_id      TEXT    NOT NULL,
    id              TEXT    NOT NULL, -- a UUID
    alias           TEXT    NOT NULL DEFAULT '', -- without "alias/"
    description     TEXT    NOT NULL DEFAULT '',
    current_version INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    rotated_at      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, id)
) STRICT;
CREATE UNIQUE INDEX kms_keys_alias ON kms_keys (account_id, alias) WHERE alias <> '';

CREATE TABLE kms_key_versions (
    account_id TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    material   BLOB    NOT NULL, -- wrapped by the master key
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, key_id, version)
) STRICT;

CREATE TABLE kms_data_keys (
    account_id  TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    wrapped     BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
) STRICT;
CREATE INDEX kms_data_keys_owner ON kms_data_keys (account_id, owner, key_id, key_version, created_at);

ALTER TABLE archive_messages ADD COLUMN data_key_id TEXT NOT NULL DEFAULT '';
