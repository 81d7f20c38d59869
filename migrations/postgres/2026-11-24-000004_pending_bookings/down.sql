ALTER TABLE appointments DROP CONSTRAINT appointments_scheduling_url_pending;
ALTER TABLE appointments DROP COLUMN scheduling_url;
