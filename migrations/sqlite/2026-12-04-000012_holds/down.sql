DROP TRIGGER holds_calendar_version_delete;
DROP TRIGGER holds_calendar_version_insert;
DROP TABLE holds;
