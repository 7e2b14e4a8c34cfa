DROP TABLE actual_imports;
--bun:split
DROP TABLE actuals;
