CREATE TABLE target_cells_prev (
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    amount          text,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id, period)
) WITHOUT ROWID;
--bun:split
INSERT INTO target_cells_prev SELECT version_id, org_unit_id, product_line_id, measure_id, period, amount FROM target_cells;
--bun:split
DROP TABLE target_cells;
--bun:split
ALTER TABLE target_cells_prev RENAME TO target_cells;
--bun:split
CREATE TABLE allocation_buffers_prev (
    version_id      bigint  NOT NULL,
    org_unit_id     bigint  NOT NULL,
    product_line_id bigint  NOT NULL,
    measure_id      bigint  NOT NULL,
    buffer          text    NOT NULL,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id)
) WITHOUT ROWID;
--bun:split
INSERT INTO allocation_buffers_prev SELECT version_id, org_unit_id, product_line_id, measure_id, buffer FROM allocation_buffers;
--bun:split
DROP TABLE allocation_buffers;
--bun:split
ALTER TABLE allocation_buffers_prev RENAME TO allocation_buffers;
--bun:split
CREATE TABLE allocation_runs_prev (
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
INSERT INTO allocation_runs_prev (id, version_id, request, cell_count, checksum, inputs, actor_id, at)
SELECT id, version_id, request, cell_count, checksum, inputs, actor_id, at FROM allocation_runs;
--bun:split
CREATE TABLE allocation_jobs_prev (
    id               integer PRIMARY KEY AUTOINCREMENT,
    version_id       bigint    NOT NULL REFERENCES versions (id),
    state            text      NOT NULL,
    request          text      NOT NULL,
    max_cells        bigint    NOT NULL,
    cells_done       bigint    NOT NULL DEFAULT 0,
    cells_total      bigint    NOT NULL DEFAULT 0,
    cancel_requested boolean   NOT NULL DEFAULT false,
    run_id           bigint    REFERENCES allocation_runs_prev (id),
    error            text,
    created_by       bigint,
    created_at       timestamp NOT NULL,
    started_at       timestamp,
    finished_at      timestamp,
    lease_owner      text,
    lease_until      timestamp,
    attempts         integer   NOT NULL DEFAULT 0
);
--bun:split
INSERT INTO allocation_jobs_prev (id, version_id, state, request, max_cells, cells_done, cells_total, cancel_requested,
    run_id, error, created_by, created_at, started_at, finished_at, lease_owner, lease_until, attempts)
SELECT id, version_id, state, request, max_cells, cells_done, cells_total, cancel_requested,
    run_id, error, created_by, created_at, started_at, finished_at, lease_owner, lease_until, attempts FROM allocation_jobs;
--bun:split
DROP TABLE allocation_jobs;
--bun:split
DROP TABLE allocation_runs;
--bun:split
ALTER TABLE allocation_runs_prev RENAME TO allocation_runs;
--bun:split
ALTER TABLE allocation_jobs_prev RENAME TO allocation_jobs;
--bun:split
CREATE INDEX allocation_runs_version ON allocation_runs (version_id);
--bun:split
CREATE INDEX allocation_jobs_version ON allocation_jobs (version_id, id);
--bun:split
CREATE INDEX allocation_jobs_waiting ON allocation_jobs (id) WHERE state IN ('queued', 'running');
