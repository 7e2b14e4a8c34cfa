-- Copy-on-write versions. A version's cells are its own layer (the rows of
-- target_cells whose version_id is cells_id, or the version's id when
-- cells_id is NULL) read over an optional base layer (base_id) that never
-- changes again. A row of the version's layer with a NULL amount hides the
-- base's cell of the same key (a deletion).
ALTER TABLE versions ADD COLUMN cells_id bigint;
--bun:split
ALTER TABLE versions ADD COLUMN base_id bigint;
--bun:split
ALTER TABLE target_cells ALTER COLUMN amount DROP NOT NULL;
