CREATE TABLE user_passwords (
    user_id    bigint       PRIMARY KEY REFERENCES users (id),
    hash       varchar(200) NOT NULL,
    updated_at timestamp    NOT NULL
);
--bun:split
CREATE TABLE sessions (
    id         integer PRIMARY KEY AUTOINCREMENT,
    user_id    bigint      NOT NULL REFERENCES users (id),
    hash       char(64)    NOT NULL UNIQUE,
    address    varchar(64) NOT NULL DEFAULT '',
    created_at timestamp   NOT NULL,
    expires_at timestamp   NOT NULL,
    revoked_at timestamp
);
--bun:split
CREATE INDEX sessions_user ON sessions (user_id);
--bun:split
CREATE TABLE password_links (
    id         integer PRIMARY KEY AUTOINCREMENT,
    user_id    bigint      NOT NULL REFERENCES users (id),
    purpose    varchar(16) NOT NULL,
    hash       char(64)    NOT NULL UNIQUE,
    expires_at timestamp   NOT NULL,
    used_at    timestamp,
    created_at timestamp   NOT NULL
);
--bun:split
CREATE TABLE sign_in_failures (
    id       integer PRIMARY KEY AUTOINCREMENT,
    username varchar(64) NOT NULL,
    address  varchar(64) NOT NULL,
    at       timestamp   NOT NULL
);
--bun:split
CREATE INDEX sign_in_failures_username ON sign_in_failures (username, at);
--bun:split
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at);
