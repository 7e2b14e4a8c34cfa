ALTER TABLE webhook_deliveries DROP COLUMN retry_from;
