-- The most a job's result may take of its institution's storage, reserved at submission
-- so that jobs running at once cannot together pass the storage quota.
ALTER TABLE jobs ADD COLUMN result_cap INTEGER;
