-- A ranked search walks the matches of its words newest first (by seq,
-- the full-text index's rowid) and checks each against the archive and
-- the filters. Looked up in archive_messages, each match cost a read of
-- its whole row (the headers as JSON, about 1.4 KB): most of a common
-- word's search. This index holds just what the check needs, about 60
-- entries to a page.
CREATE INDEX archive_messages_rank ON archive_messages (seq, account_id, archive_id, has_attachments, received_at, id);
