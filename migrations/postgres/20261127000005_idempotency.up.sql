CREATE TABLE idempotency_keys (
    user_id      bigint       NOT NULL,
    key          varchar(200) NOT NULL,
    fingerprint  char(64)     NOT NULL,
    state        varchar(16)  NOT NULL,
    status       integer,
    content_type varchar(200),
    location     varchar(1000),
    etag         varchar(200),
    response     bytea,
    created_at   timestamptz  NOT NULL,
    locked_until timestamptz  NOT NULL,
    PRIMARY KEY (user_id, key)
);
--bun:split
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
