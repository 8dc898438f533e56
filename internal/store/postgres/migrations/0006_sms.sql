-- End User Messaging SMS and voice, PostgreSQL. Timestamps are unix
-- milliseconds. The control-plane resources (phone numbers, sender IDs,
-- pools, configuration sets, opt-out lists, account settings) share one
-- table with a JSON body the domain owns; opted-out numbers and messages,
-- which grow with traffic, have their own. Key columns are COLLATE "C", as
-- SQLite's BINARY.

CREATE TABLE sms_resources (
    account_id TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL DEFAULT '',
    global_key TEXT COLLATE "C" NOT NULL DEFAULT '',
    body       BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, id)
);
CREATE UNIQUE INDEX sms_resources_name ON sms_resources (account_id, kind, name) WHERE name <> '';
CREATE UNIQUE INDEX sms_resources_global ON sms_resources (kind, global_key) WHERE global_key <> '';

CREATE TABLE sms_opted_out (
    account_id TEXT COLLATE "C" NOT NULL,
    list_name  TEXT COLLATE "C" NOT NULL,
    number     TEXT COLLATE "C" NOT NULL,
    end_user   BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (account_id, list_name, number)
);

CREATE TABLE sms_messages (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL,
    provider_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    final       BOOLEAN NOT NULL DEFAULT FALSE,
    body        BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX sms_messages_provider ON sms_messages (provider_id) WHERE provider_id <> '';
CREATE INDEX sms_messages_pending ON sms_messages (created_at) WHERE final = FALSE;
