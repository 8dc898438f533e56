-- What stands in for AWS services Tidings does not serve (internal/standins):
-- secrets (Secrets Manager), functions (Lambda), mailboxes (WorkMail), per
-- account and name. body is JSON owned by the package; a secret's body is
-- sealed (AES-256-GCM) with the master key, which is never in the database.

CREATE TABLE standins (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL, -- secret, function, mailbox
    name       TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, name)
) STRICT;
