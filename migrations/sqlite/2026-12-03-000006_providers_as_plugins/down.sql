-- Back to the credential columns of 000001 (integrations the old version does not know are
-- dropped). The CHECK lists of the old version are not restored: SQLite would need the rebuild
-- again, and the old version never writes other values.
DROP TRIGGER expert_integrations_connection_delete;
DROP TRIGGER expert_integrations_connection_update;
DROP TRIGGER expert_integrations_connection_insert;
ALTER TABLE expert_calendar_versions DROP COLUMN connection;
ALTER TABLE expert_profiles ADD COLUMN google_calendar_credentials TEXT;
ALTER TABLE expert_profiles ADD COLUMN office365_calendar_credentials TEXT;
ALTER TABLE expert_profiles ADD COLUMN calendly_config TEXT;
UPDATE expert_profiles SET
    google_calendar_credentials = (SELECT credentials FROM expert_integrations
        WHERE expert_id = expert_profiles.id AND integration_type = 'google_calendar'),
    office365_calendar_credentials = (SELECT credentials FROM expert_integrations
        WHERE expert_id = expert_profiles.id AND integration_type = 'office365_calendar'),
    calendly_config = (SELECT credentials FROM expert_integrations
        WHERE expert_id = expert_profiles.id AND integration_type = 'calendly');
DELETE FROM expert_integrations
WHERE integration_type NOT IN ('google_calendar', 'office365_calendar', 'calendly');
UPDATE expert_profiles SET integration_type = 'manual'
WHERE integration_type NOT IN ('manual', 'google_calendar', 'office365_calendar', 'calendly');
ALTER TABLE expert_integrations DROP COLUMN credentials;
