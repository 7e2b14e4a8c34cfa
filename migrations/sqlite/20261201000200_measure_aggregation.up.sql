-- How a measure's values aggregate over periods, product lines and the org
-- tree (sum, weighted_average, last_value, none), the additive measure a
-- weighted average is weighted by, and a rating's declared scale. Existing
-- measures are amounts that add up, as before.
-- (SQLite: no REFERENCES, which would keep the column from being dropped;
-- the store checks the weight measure exists.)
ALTER TABLE measures ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'amount';
--bun:split
ALTER TABLE measures ADD COLUMN aggregation varchar(20) NOT NULL DEFAULT 'sum';
--bun:split
ALTER TABLE measures ADD COLUMN weight_measure_id bigint;
--bun:split
ALTER TABLE measures ADD COLUMN rating_min varchar(40);
--bun:split
ALTER TABLE measures ADD COLUMN rating_max varchar(40);
--bun:split
ALTER TABLE measures ADD COLUMN rating_step varchar(40);
