-- Number registrations (internal/registrations): a registration is one
-- JSON document (its versions and their field values) beside the columns
-- that lists filter and page on; rev guards read-modify-write updates.
-- Attachment bytes are in the blob store. A resource (a phone number or
-- sender id) is tied to at most one registration.

CREATE TABLE registrations (
    account_id TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    rev        INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (account_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX registrations_created ON registrations (account_id, created_at, id);
CREATE INDEX registrations_status ON registrations (status, created_at, id);

CREATE TABLE registration_attachments (
    account_id TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (account_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX registration_attachments_created ON registration_attachments (account_id, created_at, id);

CREATE TABLE registration_associations (
    account_id      TEXT    NOT NULL,
    registration_id TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    body            TEXT    NOT NULL,
    PRIMARY KEY (account_id, resource_id),
    FOREIGN KEY (account_id, registration_id) REFERENCES registrations (account_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX registration_associations_registration ON registration_associations (account_id, registration_id, created_at, resource_id);
