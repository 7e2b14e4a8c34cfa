-- Where each reader of the outbox that keeps no per-event rows (the
-- e-mail sender) has got to. A server holds the cursor under a lease
-- while it works through a batch, so servers take turns.
CREATE TABLE notification_cursors (
    name          varchar(64) PRIMARY KEY,
    last_event_id bigint      NOT NULL DEFAULT 0,
    lease_until   timestamp
);
