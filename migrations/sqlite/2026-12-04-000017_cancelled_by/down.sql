ALTER TABLE appointments DROP COLUMN cancelled_by;
