-- A message accepted by a node is sent by that node at once, in process,
-- under a lease (internal/sms/dispatch.go), instead of by a job: a job
-- per message cost the single writer an insert, a fetch and a
-- completion. lease_owner names the node's process; a lease still held
-- when its process is gone is released, and the message's job queued, at
-- that node's next start or by the sweep once lease_until has passed.
ALTER TABLE sms_messages ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE sms_messages ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sms_messages_lease ON sms_messages (lease_until) WHERE lease_owner <> '';
