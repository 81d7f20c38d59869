DROP TABLE idempotency_keys;
DROP TABLE api_tokens;
DROP TABLE appointments;
DROP TABLE date_overrides;
DROP TABLE expert_availability;
DROP TABLE clients;
DROP TABLE expert_profiles;
