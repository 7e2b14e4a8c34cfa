DROP INDEX allocation_jobs_id;
--bun:split
ALTER TABLE allocation_jobs DROP CONSTRAINT allocation_jobs_run_fkey,
    DROP CONSTRAINT allocation_jobs_pkey, ADD CONSTRAINT allocation_jobs_pkey PRIMARY KEY (id);
--bun:split
DROP INDEX allocation_runs_id;
--bun:split
ALTER TABLE allocation_runs DROP CONSTRAINT allocation_runs_pkey, ADD CONSTRAINT allocation_runs_pkey PRIMARY KEY (id),
    DROP COLUMN round_id;
--bun:split
ALTER TABLE allocation_jobs DROP COLUMN round_id,
    ADD CONSTRAINT allocation_jobs_run_id_fkey FOREIGN KEY (run_id) REFERENCES allocation_runs (id);
--bun:split
ALTER TABLE allocation_buffers DROP CONSTRAINT allocation_buffers_pkey,
    ADD CONSTRAINT allocation_buffers_pkey PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id), DROP COLUMN round_id;
--bun:split
ALTER TABLE target_cells DROP CONSTRAINT target_cells_pkey,
    ADD CONSTRAINT target_cells_pkey PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id, period), DROP COLUMN round_id;
