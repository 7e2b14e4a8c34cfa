ALTER TABLE measures DROP COLUMN rating_step;
--bun:split
ALTER TABLE measures DROP COLUMN rating_max;
--bun:split
ALTER TABLE measures DROP COLUMN rating_min;
--bun:split
ALTER TABLE measures DROP COLUMN weight_measure_id;
--bun:split
ALTER TABLE measures DROP COLUMN aggregation;
--bun:split
ALTER TABLE measures DROP COLUMN kind;
