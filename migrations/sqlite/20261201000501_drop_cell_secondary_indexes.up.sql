-- The secondary indexes on target cells served only the check that an org
-- unit holds no cells before it is deleted; that check now probes the
-- primary key's (version_id, org_unit_id) prefix once per layer of cells,
-- and every cell write saves maintaining two more indexes.
DROP INDEX target_cells_org_unit;
--bun:split
DROP INDEX target_cells_product_line;
