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
    account_id      TEXT COLLATE "C" NOT NULL,
    id              TEXT COLLATE "C" NOT NULL,
    alias           TEXT COLLATE "C" NOT NULL DEFAULT '',
    description     TEXT    NOT NULL DEFAULT '',
    current_version INTEGER NOT NULL,
    created_at      BIGINT  NOT NULL,
    rotated_at      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX kms_keys_alias ON kms_keys (account_id, alias) WHERE alias <> '';

CREATE TABLE kms_key_versions (
    account_id TEXT COLLATE "C" NOT NULL,
    key_id     TEXT COLLATE "C" NOT NULL,
    version    INTEGER NOT NULL,
    material   BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (account_id, key_id, version)
);

CREATE TABLE kms_data_keys (
    account_id  TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    owner       TEXT COLLATE "C" NOT NULL,
    key_id      TEXT COLLATE "C" NOT NULL,
    key_version INTEGER NOT NULL,
    wrapped     BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX kms_data_keys_owner ON kms_data_keys (account_id, owner, key_id, key_version, created_at);

ALTER TABLE archive_messages ADD COLUMN data_key_id TEXT NOT NULL DEFAULT '';
