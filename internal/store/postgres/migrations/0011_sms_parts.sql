-- The carrier's ids of the parts after the first of a concatenated SMS
-- (the first is sms_messages.provider_id): a receipt may name any part.
CREATE TABLE sms_message_parts (
    provider_id TEXT COLLATE "C" NOT NULL,
    message_id  TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (provider_id, message_id)
);
