-- Going back needs every version to hold its own cells again: the cells
-- of every version over a base are written out in full first.
CREATE TEMPORARY TABLE cow_cells AS
SELECT v.id AS version_id, o.org_unit_id, o.product_line_id, o.measure_id, o.period, o.amount
  FROM versions AS v JOIN target_cells AS o ON o.version_id = COALESCE(v.cells_id, v.id)
 WHERE v.base_id IS NOT NULL AND o.amount IS NOT NULL
UNION ALL
SELECT v.id, b.org_unit_id, b.product_line_id, b.measure_id, b.period, b.amount
  FROM versions AS v JOIN target_cells AS b ON b.version_id = v.base_id
 WHERE v.base_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM target_cells AS o WHERE o.version_id = COALESCE(v.cells_id, v.id)
       AND o.org_unit_id = b.org_unit_id AND o.product_line_id = b.product_line_id AND o.measure_id = b.measure_id AND o.period = b.period);
--bun:split
DELETE FROM target_cells WHERE version_id IN (SELECT id FROM versions WHERE base_id IS NOT NULL)
    OR version_id IN (SELECT cells_id FROM versions WHERE cells_id IS NOT NULL);
--bun:split
INSERT INTO target_cells (version_id, org_unit_id, product_line_id, measure_id, period, amount)
SELECT version_id, org_unit_id, product_line_id, measure_id, period, amount FROM cow_cells;
--bun:split
DROP TABLE cow_cells;
--bun:split
CREATE TABLE target_cells_old (
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    amount          text     NOT NULL,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id, period)
) WITHOUT ROWID;
--bun:split
INSERT INTO target_cells_old SELECT * FROM target_cells;
--bun:split
DROP TABLE target_cells;
--bun:split
ALTER TABLE target_cells_old RENAME TO target_cells;
--bun:split
CREATE INDEX target_cells_org_unit ON target_cells (org_unit_id);
--bun:split
CREATE INDEX target_cells_product_line ON target_cells (product_line_id);
--bun:split
ALTER TABLE versions DROP COLUMN base_id;
--bun:split
ALTER TABLE versions DROP COLUMN cells_id;
