DROP TRIGGER appointments_calendar_version ON appointments;
DROP TRIGGER date_overrides_calendar_version ON date_overrides;
DROP TRIGGER expert_availability_calendar_version ON expert_availability;
DROP FUNCTION bump_calendar_version();
DROP TRIGGER expert_profiles_calendar_version ON expert_profiles;
DROP FUNCTION expert_profiles_calendar_version();
DROP TABLE expert_calendar_versions;
