-- End User Messaging SMS and voice, PostgreSQL: entries kept under one
-- control-plane resource, as many as the resource needs, and deleted with
-- it (a resource policy of a phone number, sender ID, pool or opt-out
-- list; the number overrides of a protect configuration). The domain owns
-- body.

CREATE TABLE sms_resource_entries (
    account_id TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    entry      TEXT COLLATE "C" NOT NULL,
    body       BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, id, entry),
    FOREIGN KEY (account_id, kind, id) REFERENCES sms_resources (account_id, kind, id) ON DELETE CASCADE
);
