-- Round keys: the tables that grow with the work of a round (cells, buffers,
-- allocation runs and jobs) carry the round and lead their primary keys
-- with it, and a foreign key between two of them carries it too. A sharded
-- PostgreSQL (Citus) can then distribute them by round_id, each round's
-- rows on one node, while the master data, rounds and versions stay
-- reference tables. A layer's round is its version's: a layer is a
-- version's id, or the negated id of the copy that made it (cells.go).
--
-- The cells and buffers are rewritten once each, the primary key built
-- after the load: cheaper than an UPDATE of every row and a key rebuild.
CREATE TABLE target_cells_round (
    round_id        bigint   NOT NULL,
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    amount          numeric
);
--bun:split
INSERT INTO target_cells_round (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
SELECT v.round_id, c.version_id, c.org_unit_id, c.product_line_id, c.measure_id, c.period, c.amount
  FROM target_cells AS c JOIN versions AS v ON v.id = abs(c.version_id);
--bun:split
DROP TABLE target_cells;
--bun:split
ALTER TABLE target_cells_round RENAME TO target_cells;
--bun:split
ALTER TABLE target_cells ADD CONSTRAINT target_cells_pkey PRIMARY KEY (round_id, version_id, org_unit_id, product_line_id, measure_id, period);
--bun:split
CREATE TABLE allocation_buffers_round (
    round_id        bigint  NOT NULL,
    version_id      bigint  NOT NULL,
    org_unit_id     bigint  NOT NULL,
    product_line_id bigint  NOT NULL,
    measure_id      bigint  NOT NULL,
    buffer          numeric NOT NULL
);
--bun:split
INSERT INTO allocation_buffers_round (round_id, version_id, org_unit_id, product_line_id, measure_id, buffer)
SELECT v.round_id, b.version_id, b.org_unit_id, b.product_line_id, b.measure_id, b.buffer
  FROM allocation_buffers AS b JOIN versions AS v ON v.id = b.version_id;
--bun:split
DROP TABLE allocation_buffers;
--bun:split
ALTER TABLE allocation_buffers_round RENAME TO allocation_buffers;
--bun:split
ALTER TABLE allocation_buffers ADD CONSTRAINT allocation_buffers_pkey PRIMARY KEY (round_id, version_id, org_unit_id, product_line_id, measure_id);
--bun:split
ALTER TABLE allocation_jobs DROP CONSTRAINT allocation_jobs_run_id_fkey, ADD COLUMN round_id bigint;
--bun:split
ALTER TABLE allocation_runs ADD COLUMN round_id bigint;
--bun:split
UPDATE allocation_runs AS r SET round_id = v.round_id FROM versions AS v WHERE v.id = r.version_id;
--bun:split
UPDATE allocation_jobs AS j SET round_id = v.round_id FROM versions AS v WHERE v.id = j.version_id;
--bun:split
ALTER TABLE allocation_runs ALTER COLUMN round_id SET NOT NULL,
    DROP CONSTRAINT allocation_runs_pkey, ADD CONSTRAINT allocation_runs_pkey PRIMARY KEY (round_id, id);
--bun:split
-- Runs and jobs are still found by their id alone.
CREATE INDEX allocation_runs_id ON allocation_runs (id);
--bun:split
ALTER TABLE allocation_jobs ALTER COLUMN round_id SET NOT NULL,
    DROP CONSTRAINT allocation_jobs_pkey, ADD CONSTRAINT allocation_jobs_pkey PRIMARY KEY (round_id, id),
    ADD CONSTRAINT allocation_jobs_run_fkey FOREIGN KEY (round_id, run_id) REFERENCES allocation_runs (round_id, id);
--bun:split
CREATE INDEX allocation_jobs_id ON allocation_jobs (id);
