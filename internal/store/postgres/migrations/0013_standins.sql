-- What stands in for AWS services Tidings does not serve (internal/standins):
-- secrets (Secrets Manager), functions (Lambda), mailboxes (WorkMail), per
-- account and name. body is JSON owned by the package; a secret's body is
-- sealed (AES-256-GCM) with the master key, which is never in the database.

CREATE TABLE standins (
    account_id TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL, -- secret, function, mailbox
    name       TEXT COLLATE "C" NOT NULL,
    body       BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, name)
);
