-- The gateway queue, PostgreSQL: spooled messages, the recorded steps of
-- their rule actions, and the per-recipient deliveries of Relay and Bounce
-- steps. Timestamps are unix milliseconds, 0 for "none". Key columns are
-- COLLATE "C", as SQLite's BINARY.

CREATE TABLE gateway_messages (
    queue_id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id       TEXT COLLATE "C" NOT NULL,
    ingress_point_id TEXT COLLATE "C" NOT NULL,
    rule_set_id      TEXT COLLATE "C" NOT NULL,
    state            TEXT COLLATE "C" NOT NULL,
    envelope         BYTEA  NOT NULL,
    auth             BYTEA  NOT NULL,
    blob_key         TEXT   NOT NULL,
    size             BIGINT NOT NULL,
    error            TEXT   NOT NULL DEFAULT '',
    received_at      BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    lease_owner      TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX gateway_messages_state ON gateway_messages (state, queue_id);

CREATE TABLE gateway_steps (
    queue_id   TEXT COLLATE "C" NOT NULL REFERENCES gateway_messages (queue_id) ON DELETE CASCADE,
    idx        BIGINT NOT NULL,
    rule       BIGINT NOT NULL,
    rule_name  TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    spec       BYTEA  NOT NULL,
    recipients TEXT   NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    detail     TEXT   NOT NULL DEFAULT '',
    error      TEXT   NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (queue_id, idx)
);

CREATE TABLE gateway_deliveries (
    queue_id        TEXT COLLATE "C" NOT NULL REFERENCES gateway_messages (queue_id) ON DELETE CASCADE,
    step            BIGINT NOT NULL,
    recipient       TEXT COLLATE "C" NOT NULL,
    relay_id        TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT NOT NULL DEFAULT 0,
    last_reply      TEXT   NOT NULL DEFAULT '',
    remote_mta      TEXT   NOT NULL DEFAULT '',
    dsn             TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_owner     TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until     BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (queue_id, step, recipient)
);
CREATE INDEX gateway_deliveries_state ON gateway_deliveries (state, queue_id);
CREATE INDEX gateway_deliveries_lease ON gateway_deliveries (lease_owner) WHERE lease_owner <> '';
