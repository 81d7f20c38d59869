-- Providers as plug-ins: storage names no provider. An integration's credentials (encrypted,
-- bound to expert and integration type) and settings live in its expert_integrations row, one row
-- per (expert, integration type); integration and calendar types are identifiers of registered
-- providers, checked for their shape here and against the registry by the server, not a closed
-- list. The design's google_calendar_credentials, office365_calendar_credentials and
-- calendly_config become the `credentials` of those rows, ciphertext unchanged (its encryption
-- context was (expert, integration type) already).

ALTER TABLE expert_integrations ADD COLUMN credentials TEXT;

UPDATE expert_integrations ei SET credentials = ep.google_calendar_credentials
FROM expert_profiles ep WHERE ei.expert_id = ep.id AND ei.integration_type = 'google_calendar';
UPDATE expert_integrations ei SET credentials = ep.office365_calendar_credentials
FROM expert_profiles ep WHERE ei.expert_id = ep.id AND ei.integration_type = 'office365_calendar';
UPDATE expert_integrations ei SET credentials = ep.calendly_config
FROM expert_profiles ep WHERE ei.expert_id = ep.id AND ei.integration_type = 'calendly';

-- A credential without a status row (no version wrote one, but nothing is dropped): connected.
INSERT INTO expert_integrations (expert_id, integration_type, status, settings, connected_at, credentials)
SELECT id, 'google_calendar', 'connected', '{}', updated_at, google_calendar_credentials FROM expert_profiles ep
WHERE google_calendar_credentials IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'google_calendar');
INSERT INTO expert_integrations (expert_id, integration_type, status, settings, connected_at, credentials)
SELECT id, 'office365_calendar', 'connected', '{}', updated_at, office365_calendar_credentials FROM expert_profiles ep
WHERE office365_calendar_credentials IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'office365_calendar');
INSERT INTO expert_integrations (expert_id, integration_type, status, settings, connected_at, credentials)
SELECT id, 'calendly', 'connected', '{}', updated_at, calendly_config FROM expert_profiles ep
WHERE calendly_config IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'calendly');

ALTER TABLE expert_profiles
    DROP COLUMN google_calendar_credentials,
    DROP COLUMN office365_calendar_credentials,
    DROP COLUMN calendly_config;

-- The closed lists go; the identifier's shape stays checked.
ALTER TABLE expert_profiles DROP CONSTRAINT IF EXISTS expert_profiles_integration_type_check;
ALTER TABLE expert_integrations DROP CONSTRAINT IF EXISTS expert_integrations_integration_type_check;
ALTER TABLE appointments DROP CONSTRAINT IF EXISTS appointments_calendar_type_check;
ALTER TABLE expert_profiles ADD CONSTRAINT expert_profiles_integration_type_name
    CHECK (integration_type ~ '^[a-z][a-z0-9_]{1,31}$');
ALTER TABLE expert_integrations ADD CONSTRAINT expert_integrations_integration_type_name
    CHECK (integration_type ~ '^[a-z][a-z0-9_]{1,31}$');
ALTER TABLE appointments ADD CONSTRAINT appointments_calendar_type_name
    CHECK (calendar_type IS NULL OR calendar_type ~ '^[a-z][a-z0-9_]{1,31}$');

-- An expert's connection number changes whenever one of their integrations is connected,
-- reconnected, disconnected, or its credential, settings or status change: busy time cached for
-- one connection is never served for another, in any server process. The calendar version
-- changes with it (slot reads carry the connection number).
ALTER TABLE expert_calendar_versions ADD COLUMN connection BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION bump_connection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE expert_calendar_versions SET version = version + 1, connection = connection + 1
        WHERE expert_id = OLD.expert_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.expert_id IS DISTINCT FROM OLD.expert_id) THEN
        UPDATE expert_calendar_versions SET version = version + 1, connection = connection + 1
        WHERE expert_id = NEW.expert_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER expert_integrations_connection
AFTER INSERT OR DELETE OR UPDATE OF expert_id, credentials, settings, status, connected_at ON expert_integrations
FOR EACH ROW EXECUTE FUNCTION bump_connection();
