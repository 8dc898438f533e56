-- The gateway queue, SQLite: spooled messages, the recorded steps of their
-- rule actions, and the per-recipient deliveries of Relay and Bounce steps.
-- Timestamps are unix milliseconds, 0 for "none".

CREATE TABLE gateway_messages (
    queue_id         TEXT    NOT NULL PRIMARY KEY,
    account_id       TEXT    NOT NULL,
    ingress_point_id TEXT    NOT NULL,
    rule_set_id      TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    envelope         BLOB    NOT NULL,
    auth             BLOB    NOT NULL,
    blob_key         TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    error            TEXT    NOT NULL DEFAULT '',
    received_at      INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    lease_owner      TEXT    NOT NULL DEFAULT '',
    lease_until      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX gateway_messages_state ON gateway_messages (state, queue_id);

CREATE TABLE gateway_steps (
    queue_id   TEXT    NOT NULL REFERENCES gateway_messages (queue_id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    rule       INTEGER NOT NULL,
    rule_name  TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    spec       BLOB    NOT NULL,
    recipients TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    error      TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (queue_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE gateway_deliveries (
    queue_id        TEXT    NOT NULL REFERENCES gateway_messages (queue_id) ON DELETE CASCADE,
    step            INTEGER NOT NULL,
    recipient       TEXT    NOT NULL,
    relay_id        TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_reply      TEXT    NOT NULL DEFAULT '',
    remote_mta      TEXT    NOT NULL DEFAULT '',
    dsn             TEXT    NOT NULL DEFAULT '',
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (queue_id, step, recipient)
) STRICT, WITHOUT ROWID;
CREATE INDEX gateway_deliveries_state ON gateway_deliveries (state, queue_id);
CREATE INDEX gateway_deliveries_lease ON gateway_deliveries (lease_owner) WHERE lease_owner <> '';
