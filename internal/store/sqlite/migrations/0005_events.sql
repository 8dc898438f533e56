-- Topics, webhook subscriptions, the event log and deliveries
-- (internal/events), SQLite. Timestamps are unix milliseconds, 0 for "none".

CREATE TABLE topics (
    account_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE topic_subscriptions (
    account_id TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    filter     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, topic) REFERENCES topics (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX topic_subscriptions_topic ON topic_subscriptions (account_id, topic, created_at);

CREATE TABLE topic_events (
    account_id TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    dedup_key  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, topic) REFERENCES topics (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX topic_events_log ON topic_events (account_id, topic, id);
CREATE INDEX topic_events_time ON topic_events (created_at);
CREATE UNIQUE INDEX topic_events_dedup ON topic_events (account_id, topic, dedup_key) WHERE dedup_key <> '';

CREATE TABLE topic_deliveries (
    account_id      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER NOT NULL DEFAULT 0,
    deadline_at     INTEGER NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, event_id, subscription_id),
    FOREIGN KEY (account_id, event_id) REFERENCES topic_events (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, subscription_id) REFERENCES topic_subscriptions (account_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX topic_deliveries_state ON topic_deliveries (account_id, topic, state, event_id);
CREATE INDEX topic_deliveries_subscription ON topic_deliveries (account_id, subscription_id, state);
