CREATE TABLE rounds (
    id                 integer PRIMARY KEY AUTOINCREMENT,
    code               varchar(64)  NOT NULL UNIQUE,
    name               varchar(200) NOT NULL,
    fiscal_year        integer      NOT NULL,
    first_month        integer      NOT NULL CHECK (first_month BETWEEN 1 AND 12),
    measure_ids        text         NOT NULL,
    calendar           text         NOT NULL,
    approval_chain     text         NOT NULL,
    status             varchar(32)  NOT NULL,
    working_version_id bigint,
    record_version_id  bigint,
    revision           bigint       NOT NULL DEFAULT 1,
    created_by         bigint,
    created_at         timestamp  NOT NULL,
    updated_at         timestamp  NOT NULL
);
--bun:split
CREATE INDEX rounds_year ON rounds (fiscal_year);
--bun:split
CREATE TABLE round_transitions (
    id          integer PRIMARY KEY AUTOINCREMENT,
    round_id    bigint      NOT NULL REFERENCES rounds (id),
    from_status varchar(32) NOT NULL,
    to_status   varchar(32) NOT NULL,
    actor_id    bigint,
    comment     text        NOT NULL DEFAULT '',
    at          timestamp NOT NULL
);
--bun:split
CREATE INDEX round_transitions_round ON round_transitions (round_id);
--bun:split
CREATE TABLE versions (
    id         integer PRIMARY KEY AUTOINCREMENT,
    round_id   bigint       NOT NULL REFERENCES rounds (id),
    number     integer      NOT NULL,
    label      varchar(200) NOT NULL DEFAULT '',
    purpose    varchar(200) NOT NULL DEFAULT '',
    status     varchar(16)  NOT NULL,
    parent_id  bigint REFERENCES versions (id),
    revision   bigint       NOT NULL DEFAULT 1,
    cell_count bigint       NOT NULL DEFAULT 0,
    created_by bigint,
    created_at timestamp  NOT NULL,
    frozen_by  bigint,
    frozen_at  timestamp,
    UNIQUE (round_id, number)
);
--bun:split
-- Cells carry no foreign keys to the master data: the store checks every key
-- it writes, and master data that holds cells is never deleted (see
-- orgDataTables in planning/sqlstore). Bulk loads of a million cells stay
-- fast that way.
CREATE TABLE target_cells (
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    amount          text     NOT NULL,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id, period)
) WITHOUT ROWID;
--bun:split
CREATE INDEX target_cells_org_unit ON target_cells (org_unit_id);
--bun:split
CREATE INDEX target_cells_product_line ON target_cells (product_line_id);
--bun:split
CREATE TABLE allocation_buffers (
    version_id      bigint  NOT NULL,
    org_unit_id     bigint  NOT NULL,
    product_line_id bigint  NOT NULL,
    measure_id      bigint  NOT NULL,
    buffer          text    NOT NULL,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id)
) WITHOUT ROWID;
--bun:split
CREATE TABLE allocation_runs (
    id          integer PRIMARY KEY AUTOINCREMENT,
    version_id  bigint      NOT NULL REFERENCES versions (id),
    request     text        NOT NULL,
    cell_count  bigint      NOT NULL,
    checksum    varchar(64) NOT NULL,
    inputs      blob        NOT NULL,
    actor_id    bigint,
    at          timestamp NOT NULL
);
--bun:split
CREATE INDEX allocation_runs_version ON allocation_runs (version_id);
