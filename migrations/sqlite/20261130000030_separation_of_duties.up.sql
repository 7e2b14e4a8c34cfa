-- How strictly the approval chain keeps people apart: 'version' (the floor)
-- or 'round'. Existing rounds keep the floor.
ALTER TABLE rounds ADD COLUMN separation_of_duties text NOT NULL DEFAULT 'version';
