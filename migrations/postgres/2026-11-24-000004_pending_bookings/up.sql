-- Pending bookings: a scheduler (Calendly) that may not book through its API answers with a
-- single-use link where the client finishes the booking. The appointment waits as 'pending' (the
-- status CHECK of 000001 allows it already) with that link, holding no time (the exclusion
-- constraint covers confirmed appointments only), until the provider's webhook confirms it. The
-- link belongs to pending appointments only.
ALTER TABLE appointments
    ADD COLUMN scheduling_url TEXT,
    ADD CONSTRAINT appointments_scheduling_url_pending CHECK (scheduling_url IS NULL OR status = 'pending');
