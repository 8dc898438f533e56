-- A ranked search ranks the newest matches of its words (by seq): this
-- index lets PostgreSQL walk an archive's messages newest first and stop
-- once it has enough, instead of finding every match of a common word.
CREATE INDEX archive_messages_rank ON archive_messages (account_id, archive_id, seq);
