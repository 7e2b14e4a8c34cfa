ALTER TABLE rounds DROP COLUMN separation_of_duties;
