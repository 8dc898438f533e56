-- The email templates of SES (internal/templates): one row per template of
-- an account; the parts are Handlebars source, tags a JSON array.

CREATE TABLE email_templates (
    account_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    html       TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    tags       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT;
