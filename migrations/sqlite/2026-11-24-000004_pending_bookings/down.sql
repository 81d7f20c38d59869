ALTER TABLE appointments DROP COLUMN scheduling_url;
