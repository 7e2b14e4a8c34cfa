CREATE INDEX target_cells_org_unit ON target_cells (org_unit_id);
--bun:split
CREATE INDEX target_cells_product_line ON target_cells (product_line_id);
