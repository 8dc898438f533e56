-- A message accepted by a node is delivered by that node at once, in
-- process, under a lease (internal/sending/dispatch.go), instead of by a
-- job, as SMS messages are (0021). A lease still held when its process is
-- gone is released, and the message's delivery job queued, at that node's
-- next start or by the hourly sweep once lease_until has passed.
ALTER TABLE ses_messages ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE ses_messages ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX ses_messages_lease ON ses_messages (lease_until) WHERE lease_owner <> '';
