-- The records cannot be read back into columns by SQL: the kept responses
-- are forgotten, and their requests run again if retried.
DELETE FROM idempotency_keys;
--bun:split
ALTER TABLE idempotency_keys ADD COLUMN status integer;
--bun:split
ALTER TABLE idempotency_keys ADD COLUMN content_type varchar(200);
--bun:split
ALTER TABLE idempotency_keys ADD COLUMN location varchar(1000);
--bun:split
ALTER TABLE idempotency_keys ADD COLUMN etag varchar(200);
