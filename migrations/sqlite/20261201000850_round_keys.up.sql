-- Round keys: the tables that grow with the work of a round (cells, buffers,
-- allocation runs and jobs) carry the round and lead their primary keys
-- with it, and a foreign key between two of them carries it too (see the
-- PostgreSQL migration of the same name). A layer's round is its
-- version's: a layer is a version's id, or the negated id of the copy that
-- made it (cells.go). Runs and jobs keep SQLite's integer rowid key, its
-- only generated id, with a unique (round_id, id) key beside it.
CREATE TABLE target_cells_round (
    round_id        bigint   NOT NULL,
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    amount          text,
    PRIMARY KEY (round_id, version_id, org_unit_id, product_line_id, measure_id, period)
) WITHOUT ROWID;
--bun:split
INSERT INTO target_cells_round (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
SELECT v.round_id, c.version_id, c.org_unit_id, c.product_line_id, c.measure_id, c.period, c.amount
  FROM target_cells AS c JOIN versions AS v ON v.id = abs(c.version_id)
 ORDER BY v.round_id, c.version_id, c.org_unit_id, c.product_line_id, c.measure_id, c.period;
--bun:split
DROP TABLE target_cells;
--bun:split
ALTER TABLE target_cells_round RENAME TO target_cells;
--bun:split
CREATE TABLE allocation_buffers_round (
    round_id        bigint  NOT NULL,
    version_id      bigint  NOT NULL,
    org_unit_id     bigint  NOT NULL,
    product_line_id bigint  NOT NULL,
    measure_id      bigint  NOT NULL,
    buffer          text    NOT NULL,
    PRIMARY KEY (round_id, version_id, org_unit_id, product_line_id, measure_id)
) WITHOUT ROWID;
--bun:split
INSERT INTO allocation_buffers_round (round_id, version_id, org_unit_id, product_line_id, measure_id, buffer)
SELECT v.round_id, b.version_id, b.org_unit_id, b.product_line_id, b.measure_id, b.buffer
  FROM allocation_buffers AS b JOIN versions AS v ON v.id = b.version_id;
--bun:split
DROP TABLE allocation_buffers;
--bun:split
ALTER TABLE allocation_buffers_round RENAME TO allocation_buffers;
--bun:split
CREATE TABLE allocation_runs_round (
    id          integer PRIMARY KEY AUTOINCREMENT,
    round_id    bigint      NOT NULL,
    version_id  bigint      NOT NULL REFERENCES versions (id),
    request     text        NOT NULL,
    cell_count  bigint      NOT NULL,
    checksum    varchar(64) NOT NULL,
    inputs      blob        NOT NULL,
    actor_id    bigint,
    at          timestamp NOT NULL,
    UNIQUE (round_id, id)
);
--bun:split
INSERT INTO allocation_runs_round (id, round_id, version_id, request, cell_count, checksum, inputs, actor_id, at)
SELECT r.id, v.round_id, r.version_id, r.request, r.cell_count, r.checksum, r.inputs, r.actor_id, r.at
  FROM allocation_runs AS r JOIN versions AS v ON v.id = r.version_id;
--bun:split
CREATE TABLE allocation_jobs_round (
    id               integer PRIMARY KEY AUTOINCREMENT,
    round_id         bigint    NOT NULL,
    version_id       bigint    NOT NULL REFERENCES versions (id),
    state            text      NOT NULL,
    request          text      NOT NULL,
    max_cells        bigint    NOT NULL,
    cells_done       bigint    NOT NULL DEFAULT 0,
    cells_total      bigint    NOT NULL DEFAULT 0,
    cancel_requested boolean   NOT NULL DEFAULT false,
    run_id           bigint,
    error            text,
    created_by       bigint,
    created_at       timestamp NOT NULL,
    started_at       timestamp,
    finished_at      timestamp,
    lease_owner      text,
    lease_until      timestamp,
    attempts         integer   NOT NULL DEFAULT 0,
    UNIQUE (round_id, id),
    FOREIGN KEY (round_id, run_id) REFERENCES allocation_runs_round (round_id, id)
);
--bun:split
INSERT INTO allocation_jobs_round (id, round_id, version_id, state, request, max_cells, cells_done, cells_total, cancel_requested,
    run_id, error, created_by, created_at, started_at, finished_at, lease_owner, lease_until, attempts)
SELECT j.id, v.round_id, j.version_id, j.state, j.request, j.max_cells, j.cells_done, j.cells_total, j.cancel_requested,
    j.run_id, j.error, j.created_by, j.created_at, j.started_at, j.finished_at, j.lease_owner, j.lease_until, j.attempts
  FROM allocation_jobs AS j JOIN versions AS v ON v.id = j.version_id;
--bun:split
-- The generated ids go on from where they were, deleted rows included.
UPDATE sqlite_sequence SET seq = max(seq, (SELECT s.seq FROM sqlite_sequence AS s WHERE s.name = 'allocation_runs'))
 WHERE name = 'allocation_runs_round' AND EXISTS (SELECT 1 FROM sqlite_sequence AS s WHERE s.name = 'allocation_runs');
--bun:split
UPDATE sqlite_sequence SET seq = max(seq, (SELECT s.seq FROM sqlite_sequence AS s WHERE s.name = 'allocation_jobs'))
 WHERE name = 'allocation_jobs_round' AND EXISTS (SELECT 1 FROM sqlite_sequence AS s WHERE s.name = 'allocation_jobs');
--bun:split
DROP TABLE allocation_jobs;
--bun:split
DROP TABLE allocation_runs;
--bun:split
ALTER TABLE allocation_runs_round RENAME TO allocation_runs;
--bun:split
ALTER TABLE allocation_jobs_round RENAME TO allocation_jobs;
--bun:split
CREATE INDEX allocation_runs_version ON allocation_runs (version_id);
--bun:split
CREATE INDEX allocation_jobs_version ON allocation_jobs (version_id, id);
--bun:split
CREATE INDEX allocation_jobs_waiting ON allocation_jobs (id) WHERE state IN ('queued', 'running');
