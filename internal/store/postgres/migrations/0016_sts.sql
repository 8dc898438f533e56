-- IAM roles and the temporary credentials STS issues (internal/iam).
-- A role is named within its account; IAM role names are unique whatever
-- their case, hence name_key (the lower-cased name). trusted_accounts are
-- the other accounts whose callers may assume it, comma-separated.

CREATE TABLE iam_roles (
    account_id           TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name_key             TEXT COLLATE "C" NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL,
    path                 TEXT COLLATE "C" NOT NULL,
    role_id              TEXT COLLATE "C" NOT NULL UNIQUE,
    trusted_accounts     TEXT COLLATE "C" NOT NULL,
    max_session_seconds  BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (account_id, name_key)
);

-- Temporary credentials. The secret is kept as a long-term key's is (SigV4
-- needs it); of the session token only its hex SHA-256. role_id is the
-- assumed role's ('' for GetSessionToken): deleting the role deletes its
-- sessions.
CREATE TABLE iam_sessions (
    access_key_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret          TEXT COLLATE "C" NOT NULL,
    token_hash      TEXT COLLATE "C" NOT NULL,
    account_id      TEXT COLLATE "C" NOT NULL,
    arn             TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" NOT NULL,
    role_id         TEXT COLLATE "C" NOT NULL,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX iam_sessions_expires ON iam_sessions (expires_at);
CREATE INDEX iam_sessions_role ON iam_sessions (role_id);
