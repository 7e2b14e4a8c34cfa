-- The transactional outbox: one row per domain event, written in the
-- transaction of the change it reports (beside that change's audit event,
-- which holds its details), so an event exists if and only if its change
-- committed. org_path places the event in the org tree for scoped readers.
CREATE TABLE events (
    id         integer PRIMARY KEY AUTOINCREMENT,
    type       varchar(64)  NOT NULL,
    at         timestamp  NOT NULL,
    audit_id   bigint       NOT NULL,
    actor_id   bigint,
    entity     varchar(64)  NOT NULL,
    entity_id  bigint       NOT NULL,
    round_id   bigint,
    version_id bigint,
    org_path   varchar(1024),
    data       text
);
--bun:split
CREATE INDEX events_at ON events (at);
--bun:split
-- Webhook endpoints (Standard Webhooks). event_types is ",a,b," or empty
-- for every type; previous_secret signs too until previous_until, so a
-- receiver can switch secrets without missing a delivery.
CREATE TABLE webhook_endpoints (
    id               integer PRIMARY KEY AUTOINCREMENT,
    url              varchar(2048) NOT NULL,
    description      varchar(500)  NOT NULL DEFAULT '',
    event_types      varchar(2048) NOT NULL DEFAULT '',
    secret           varchar(200)  NOT NULL,
    previous_secret  varchar(200),
    previous_until   timestamp,
    status           varchar(16)   NOT NULL,
    disabled_reason  varchar(500)  NOT NULL DEFAULT '',
    owner_id         bigint        NOT NULL,
    revision         bigint        NOT NULL DEFAULT 1,
    created_at       timestamp   NOT NULL,
    updated_at       timestamp   NOT NULL
);
--bun:split
-- One delivery of one event to one endpoint; its id is the webhook-id the
-- receiver dedupes on. A worker leases due rows (lease_until) so several
-- servers never send the same attempt at once.
CREATE TABLE webhook_deliveries (
    id            integer PRIMARY KEY AUTOINCREMENT,
    endpoint_id   bigint       NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      bigint       NOT NULL REFERENCES events (id),
    state         varchar(16)  NOT NULL,
    attempts      integer      NOT NULL DEFAULT 0,
    next_at       timestamp  NOT NULL,
    lease_until   timestamp,
    last_status   integer,
    created_at    timestamp  NOT NULL,
    finished_at   timestamp,
    UNIQUE (endpoint_id, event_id)
);
--bun:split
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
--bun:split
CREATE TABLE webhook_attempts (
    id           integer PRIMARY KEY AUTOINCREMENT,
    delivery_id  bigint        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at           timestamp   NOT NULL,
    status       integer       NOT NULL DEFAULT 0,
    latency_ms   bigint        NOT NULL DEFAULT 0,
    error        varchar(1000) NOT NULL DEFAULT '',
    response     varchar(1000) NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
--bun:split
-- Durable timers of the rounds' calendars: reminders before a phase's
-- deadline and the escalation after it. A timer fires once: the
-- transaction that reports it also sets fired_at.
CREATE TABLE deadline_timers (
    id          integer PRIMARY KEY AUTOINCREMENT,
    round_id    bigint       NOT NULL REFERENCES rounds (id),
    phase       varchar(32)  NOT NULL,
    kind        varchar(32)  NOT NULL,
    due         timestamp  NOT NULL,
    fire_at     timestamp  NOT NULL,
    fired_at    timestamp,
    UNIQUE (round_id, phase, kind, due)
);
--bun:split
CREATE INDEX deadline_timers_due ON deadline_timers (fired_at, fire_at);
