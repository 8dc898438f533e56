-- The email templates of SES (internal/templates): one row per template of
-- an account; the parts are Handlebars source, tags a JSON array. Names
-- sort byte for byte (COLLATE "C") as on SQLite, for the same pages.

CREATE TABLE email_templates (
    account_id TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    subject    TEXT   NOT NULL,
    html       TEXT   NOT NULL,
    text       TEXT   NOT NULL,
    tags       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
