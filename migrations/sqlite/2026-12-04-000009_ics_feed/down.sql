ALTER TABLE expert_profiles DROP COLUMN ics_feed_secret_hash;
DROP TRIGGER appointments_sequence;
ALTER TABLE appointments DROP COLUMN sequence;
