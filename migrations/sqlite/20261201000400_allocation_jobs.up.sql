-- An allocation job is an allocation run in the background: the request,
-- where it stands, its progress, and the lease of the server running it.
CREATE TABLE allocation_jobs (
    id               integer PRIMARY KEY AUTOINCREMENT,
    version_id       bigint    NOT NULL REFERENCES versions (id),
    state            text      NOT NULL,
    request          text      NOT NULL,
    max_cells        bigint    NOT NULL,
    cells_done       bigint    NOT NULL DEFAULT 0,
    cells_total      bigint    NOT NULL DEFAULT 0,
    cancel_requested boolean   NOT NULL DEFAULT false,
    run_id           bigint    REFERENCES allocation_runs (id),
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
CREATE INDEX allocation_jobs_version ON allocation_jobs (version_id, id);
--bun:split
CREATE INDEX allocation_jobs_waiting ON allocation_jobs (id) WHERE state IN ('queued', 'running');
