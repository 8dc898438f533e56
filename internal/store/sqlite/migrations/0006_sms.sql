-- End User Messaging SMS and voice, SQLite. Timestamps are unix
-- milliseconds. The control-plane resources (phone numbers, sender IDs,
-- pools, configuration sets, opt-out lists, account settings) share one
-- table with a JSON body the domain owns; opted-out numbers and messages,
-- which grow with traffic, have their own.

CREATE TABLE sms_resources (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    -- name is unique per account and kind when not empty (configuration
    -- set and opt-out list names).
    name       TEXT    NOT NULL DEFAULT '',
    -- global_key is unique per kind across accounts when not empty (the
    -- E.164 number of a phone number: inbound messages find it by that).
    global_key TEXT    NOT NULL DEFAULT '',
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX sms_resources_name ON sms_resources (account_id, kind, name) WHERE name <> '';
CREATE UNIQUE INDEX sms_resources_global ON sms_resources (kind, global_key) WHERE global_key <> '';

CREATE TABLE sms_opted_out (
    account_id  TEXT    NOT NULL,
    list_name   TEXT    NOT NULL,
    number      TEXT    NOT NULL,
    end_user    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, list_name, number)
) STRICT, WITHOUT ROWID;

CREATE TABLE sms_messages (
    id          TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL,
    provider_id TEXT    NOT NULL DEFAULT '',
    final       INTEGER NOT NULL DEFAULT 0,
    body        BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sms_messages_provider ON sms_messages (provider_id) WHERE provider_id <> '';
CREATE INDEX sms_messages_pending ON sms_messages (created_at) WHERE final = 0;
