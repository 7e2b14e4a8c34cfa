CREATE TABLE users (
    id         integer PRIMARY KEY AUTOINCREMENT,
    username   varchar(64)  NOT NULL UNIQUE,
    name       varchar(200) NOT NULL,
    email      varchar(320) NOT NULL DEFAULT '',
    active     boolean      NOT NULL DEFAULT true,
    revision   bigint       NOT NULL DEFAULT 1,
    created_at timestamp  NOT NULL,
    updated_at timestamp  NOT NULL
);
--bun:split
CREATE TABLE org_units (
    id         integer PRIMARY KEY AUTOINCREMENT,
    code       varchar(64)   NOT NULL UNIQUE,
    name       varchar(200)  NOT NULL,
    name_local varchar(200)  NOT NULL DEFAULT '',
    kind       varchar(32)   NOT NULL,
    parent_id  bigint REFERENCES org_units (id),
    path       varchar(1000) NOT NULL,
    active     boolean       NOT NULL DEFAULT true,
    revision   bigint        NOT NULL DEFAULT 1,
    created_at timestamp   NOT NULL,
    updated_at timestamp   NOT NULL
);
--bun:split
CREATE INDEX org_units_path ON org_units (path);
--bun:split
CREATE INDEX org_units_parent ON org_units (parent_id);
--bun:split
CREATE TABLE role_assignments (
    id          integer PRIMARY KEY AUTOINCREMENT,
    user_id     bigint      NOT NULL REFERENCES users (id),
    role        varchar(32) NOT NULL,
    org_unit_id bigint REFERENCES org_units (id),
    created_at  timestamp NOT NULL
);
--bun:split
CREATE UNIQUE INDEX role_assignments_unique ON role_assignments (user_id, role, (COALESCE(org_unit_id, 0)));
--bun:split
CREATE INDEX role_assignments_org_unit ON role_assignments (org_unit_id);
--bun:split
CREATE TABLE product_lines (
    id            integer PRIMARY KEY AUTOINCREMENT,
    code          varchar(64)  NOT NULL UNIQUE,
    name          varchar(200) NOT NULL,
    name_local    varchar(200) NOT NULL DEFAULT '',
    product_group varchar(32)  NOT NULL,
    owner_id      bigint REFERENCES users (id),
    active        boolean      NOT NULL DEFAULT true,
    revision      bigint       NOT NULL DEFAULT 1,
    created_at    timestamp  NOT NULL,
    updated_at    timestamp  NOT NULL
);
--bun:split
CREATE TABLE measures (
    id         integer PRIMARY KEY AUTOINCREMENT,
    code       varchar(64)  NOT NULL UNIQUE,
    name       varchar(200) NOT NULL,
    name_local varchar(200) NOT NULL DEFAULT '',
    unit       varchar(16)  NOT NULL,
    scale      integer      NOT NULL CHECK (scale BETWEEN 0 AND 6),
    active     boolean      NOT NULL DEFAULT true,
    revision   bigint       NOT NULL DEFAULT 1,
    created_at timestamp  NOT NULL,
    updated_at timestamp  NOT NULL
);
--bun:split
CREATE TABLE seasonality_profiles (
    id         integer PRIMARY KEY AUTOINCREMENT,
    code       varchar(64)  NOT NULL UNIQUE,
    name       varchar(200) NOT NULL,
    weights    text         NOT NULL,
    revision   bigint       NOT NULL DEFAULT 1,
    created_at timestamp  NOT NULL,
    updated_at timestamp  NOT NULL
);
--bun:split
CREATE TABLE tokens (
    id           integer PRIMARY KEY AUTOINCREMENT,
    user_id      bigint       NOT NULL REFERENCES users (id),
    name         varchar(200) NOT NULL,
    hint         varchar(16)  NOT NULL,
    hash         char(64)     NOT NULL UNIQUE,
    expires_at   timestamp,
    revoked_at   timestamp,
    last_used_at timestamp,
    created_at   timestamp  NOT NULL
);
--bun:split
CREATE TABLE audit_events (
    id        integer PRIMARY KEY AUTOINCREMENT,
    at        timestamp NOT NULL,
    actor_id  bigint,
    action    varchar(64) NOT NULL,
    entity    varchar(64) NOT NULL,
    entity_id bigint      NOT NULL,
    before    text,
    after     text
);
--bun:split
CREATE INDEX audit_events_entity ON audit_events (entity, entity_id);
--bun:split
CREATE INDEX audit_events_actor ON audit_events (actor_id);
