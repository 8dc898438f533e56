-- Bounces and complaints that arrive as reports (a DSN sent after the MX
-- took the message, an ARF complaint), counted per account and 15-minute
-- interval for SES v1 GetSendStatistics. Delivery attempts and the
-- bounces met at delivery are counted from ses_recipients instead.
CREATE TABLE ses_feedback_counts (
    account_id TEXT    NOT NULL,
    bucket     INTEGER NOT NULL, -- start of the interval, ms since the epoch
    bounces    INTEGER NOT NULL,
    complaints INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket)
) STRICT;
