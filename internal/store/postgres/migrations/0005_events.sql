-- Topics, webhook subscriptions, the event log and deliveries
-- (internal/events), PostgreSQL. Timestamps are unix milliseconds, 0 for
-- "none". Key columns are COLLATE "C", as SQLite's BINARY.

CREATE TABLE topics (
    account_id TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE topic_subscriptions (
    account_id TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    topic      TEXT COLLATE "C" NOT NULL,
    url        TEXT   NOT NULL,
    secret     TEXT   NOT NULL,
    filter     TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, topic) REFERENCES topics (account_id, name) ON DELETE CASCADE
);
CREATE INDEX topic_subscriptions_topic ON topic_subscriptions (account_id, topic, created_at);

CREATE TABLE topic_events (
    account_id TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    topic      TEXT COLLATE "C" NOT NULL,
    body       BYTEA  NOT NULL,
    dedup_key  TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, topic) REFERENCES topics (account_id, name) ON DELETE CASCADE
);
CREATE INDEX topic_events_log ON topic_events (account_id, topic, id);
CREATE INDEX topic_events_time ON topic_events (created_at);
CREATE UNIQUE INDEX topic_events_dedup ON topic_events (account_id, topic, dedup_key) WHERE dedup_key <> '';

CREATE TABLE topic_deliveries (
    account_id      TEXT COLLATE "C" NOT NULL,
    event_id        TEXT COLLATE "C" NOT NULL,
    subscription_id TEXT COLLATE "C" NOT NULL,
    topic           TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT NOT NULL DEFAULT 0,
    deadline_at     BIGINT NOT NULL,
    last_status     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT   NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_id, subscription_id),
    FOREIGN KEY (account_id, event_id) REFERENCES topic_events (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, subscription_id) REFERENCES topic_subscriptions (account_id, id) ON DELETE CASCADE
);
CREATE INDEX topic_deliveries_state ON topic_deliveries (account_id, topic, state, event_id);
CREATE INDEX topic_deliveries_subscription ON topic_deliveries (account_id, subscription_id, state);
