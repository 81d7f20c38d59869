-- Pending bookings: a scheduler (Calendly) that may not book through its API answers with a
-- single-use link where the client finishes the booking. The appointment waits as 'pending' (the
-- status CHECK of 000001 allows it) with that link, holding no time, until the provider's webhook
-- confirms it. The link belongs to pending appointments only.
ALTER TABLE appointments ADD COLUMN scheduling_url TEXT
    CHECK (scheduling_url IS NULL OR status = 'pending');
