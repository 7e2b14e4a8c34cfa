-- An idempotency key keeps one record of its response, opaque to the
-- store: the status and the three headers, a line each, then the body.
-- Records kept before move into that form.
UPDATE idempotency_keys SET response = CAST(
    CAST(status AS TEXT) || char(10) || coalesce(content_type, '') || char(10) || coalesce(location, '') || char(10) || coalesce(etag, '') || char(10)
    || CAST(coalesce(response, x'') AS TEXT) AS BLOB)
WHERE state = 'done' AND status IS NOT NULL;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN status;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN content_type;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN location;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN etag;
