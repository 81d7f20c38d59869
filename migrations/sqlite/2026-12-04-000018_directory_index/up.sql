-- The directory reads experts by name, then id (its pages and #19's search over every expert):
-- in index order, with no sort of the whole table per question.
CREATE INDEX expert_profiles_by_name ON expert_profiles (name, id);
