DROP TRIGGER holds_calendar_version ON holds;
DROP TABLE holds;
