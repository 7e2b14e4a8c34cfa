DROP TABLE allocation_runs;
--bun:split
DROP TABLE allocation_buffers;
--bun:split
DROP TABLE target_cells;
--bun:split
DROP TABLE versions;
--bun:split
DROP TABLE round_transitions;
--bun:split
DROP TABLE rounds;
