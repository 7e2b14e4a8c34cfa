DROP TABLE cell_history;
--bun:split
DROP INDEX audit_events_at;
--bun:split
DROP INDEX audit_events_round;
--bun:split
DROP INDEX audit_events_version;
--bun:split
ALTER TABLE audit_events DROP COLUMN org_path;
--bun:split
ALTER TABLE audit_events DROP COLUMN version_id;
--bun:split
ALTER TABLE audit_events DROP COLUMN round_id;
--bun:split
ALTER TABLE versions DROP COLUMN approval_step;
--bun:split
ALTER TABLE versions DROP COLUMN approval_state;
--bun:split
DROP TABLE approval_actions;
--bun:split
DROP TABLE counterproposal_comments;
--bun:split
DROP TABLE counterproposal_lines;
--bun:split
DROP TABLE counterproposals;
