-- Spooled messages small enough to live in the database (the gateway's
-- spool and the send queue, up to spool.InlineMax bytes) are kept here,
-- by the key their blob would have, and written in the transaction that
-- queues them: one fsync of the database then makes a whole group commit
-- of messages durable, where a file per message costs an fsync of the
-- file and one of its directory each. Larger messages stay in the blob
-- store. A row goes when its message no longer needs its copy.

CREATE TABLE spool_content (
    key     TEXT PRIMARY KEY,
    content BLOB NOT NULL
);
