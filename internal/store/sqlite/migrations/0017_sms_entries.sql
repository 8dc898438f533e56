-- End User Messaging SMS and voice, SQLite: entries kept under one
-- control-plane resource, as many as the resource needs, and deleted with
-- it (a resource policy of a phone number, sender ID, pool or opt-out
-- list; the number overrides of a protect configuration). The domain owns
-- body.

CREATE TABLE sms_resource_entries (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    entry      TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, id, entry),
    FOREIGN KEY (account_id, kind, id) REFERENCES sms_resources (account_id, kind, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
