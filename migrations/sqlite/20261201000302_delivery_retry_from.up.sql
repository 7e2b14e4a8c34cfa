-- A replay gives a delivery a new retry horizon, counted from the replay.
ALTER TABLE webhook_deliveries ADD COLUMN retry_from timestamp;
