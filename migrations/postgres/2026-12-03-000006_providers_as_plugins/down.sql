DROP TRIGGER expert_integrations_connection ON expert_integrations;
DROP FUNCTION bump_connection();
ALTER TABLE expert_calendar_versions DROP COLUMN connection;

ALTER TABLE appointments DROP CONSTRAINT appointments_calendar_type_name;
ALTER TABLE expert_integrations DROP CONSTRAINT expert_integrations_integration_type_name;
ALTER TABLE expert_profiles DROP CONSTRAINT expert_profiles_integration_type_name;

ALTER TABLE expert_profiles
    ADD COLUMN google_calendar_credentials TEXT,
    ADD COLUMN office365_calendar_credentials TEXT,
    ADD COLUMN calendly_config TEXT;
UPDATE expert_profiles ep SET google_calendar_credentials = ei.credentials
FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'google_calendar';
UPDATE expert_profiles ep SET office365_calendar_credentials = ei.credentials
FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'office365_calendar';
UPDATE expert_profiles ep SET calendly_config = ei.credentials
FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'calendly';
-- Integrations the old version does not know cannot be kept.
DELETE FROM expert_integrations
WHERE integration_type NOT IN ('google_calendar', 'office365_calendar', 'calendly');
UPDATE expert_profiles SET integration_type = 'manual'
WHERE integration_type NOT IN ('manual', 'google_calendar', 'office365_calendar', 'calendly');
UPDATE appointments SET calendar_type = NULL WHERE calendar_type NOT IN ('google', 'office365', 'calendly');
ALTER TABLE expert_integrations DROP COLUMN credentials;
ALTER TABLE expert_profiles ADD CONSTRAINT expert_profiles_integration_type_check
    CHECK (integration_type IN ('manual', 'google_calendar', 'office365_calendar', 'calendly'));
ALTER TABLE expert_integrations ADD CONSTRAINT expert_integrations_integration_type_check
    CHECK (integration_type IN ('google_calendar', 'office365_calendar', 'calendly'));
ALTER TABLE appointments ADD CONSTRAINT appointments_calendar_type_check
    CHECK (calendar_type IN ('google', 'office365', 'calendly'));
