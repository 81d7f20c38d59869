DROP INDEX expert_profiles_by_name;
