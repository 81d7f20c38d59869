ALTER TABLE expert_profiles DROP COLUMN ics_feed_secret_hash;
DROP TRIGGER appointments_sequence ON appointments;
DROP FUNCTION appointments_next_sequence();
ALTER TABLE appointments DROP COLUMN sequence;
