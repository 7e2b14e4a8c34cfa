-- Copy-on-write versions. A version's cells are its own layer (the rows of
-- target_cells whose version_id is cells_id, or the version's id when
-- cells_id is NULL) read over an optional base layer (base_id) that never
-- changes again. A row of the version's layer with a NULL amount hides the
-- base's cell of the same key (a deletion).
ALTER TABLE versions ADD COLUMN cells_id bigint;
--bun:split
ALTER TABLE versions ADD COLUMN base_id bigint;
--bun:split
CREATE TABLE target_cells_cow (
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    amount          text,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id, period)
) WITHOUT ROWID;
--bun:split
INSERT INTO target_cells_cow SELECT version_id, org_unit_id, product_line_id, measure_id, period, amount FROM target_cells;
--bun:split
DROP TABLE target_cells;
--bun:split
ALTER TABLE target_cells_cow RENAME TO target_cells;
--bun:split
CREATE INDEX target_cells_org_unit ON target_cells (org_unit_id);
--bun:split
CREATE INDEX target_cells_product_line ON target_cells (product_line_id);
