DROP TABLE audit_events;
--bun:split
DROP TABLE tokens;
--bun:split
DROP TABLE seasonality_profiles;
--bun:split
DROP TABLE measures;
--bun:split
DROP TABLE product_lines;
--bun:split
DROP TABLE role_assignments;
--bun:split
DROP TABLE org_units;
--bun:split
DROP TABLE users;
