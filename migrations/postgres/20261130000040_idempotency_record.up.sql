-- An idempotency key keeps one record of its response, opaque to the
-- store: the status and the three headers, a line each, then the body.
-- Records kept before move into that form.
UPDATE idempotency_keys SET response =
    convert_to(status::text || E'\n' || coalesce(content_type, '') || E'\n' || coalesce(location, '') || E'\n' || coalesce(etag, '') || E'\n', 'UTF8')
    || coalesce(response, ''::bytea)
WHERE state = 'done' AND status IS NOT NULL;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN status;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN content_type;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN location;
--bun:split
ALTER TABLE idempotency_keys DROP COLUMN etag;
