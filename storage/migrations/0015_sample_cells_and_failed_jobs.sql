-- Issue 14: the sample budget counts cells as well as rows (a wide row carries more
-- than a narrow one), and a job's failure is an output of its own, so failed jobs
-- have a daily budget.
ALTER TABLE quotas ADD COLUMN sampled_cells_per_day INTEGER NOT NULL DEFAULT 10000;
ALTER TABLE quotas ADD COLUMN failed_jobs_per_day INTEGER NOT NULL DEFAULT 50;
ALTER TABLE releases ADD COLUMN cells INTEGER NOT NULL DEFAULT 0;
-- Samples released before: their rows times their columns (recorded with each).
UPDATE releases
SET cells = rows * MAX(1, COALESCE(json_array_length(request, '$.columns'), 1))
WHERE kind = 'sample';
-- Whether a failed job's failure could depend on the data (a failure while running, a
-- model's, a limit reached), as opposed to SQL refused before it read anything.
ALTER TABLE jobs ADD COLUMN data_failure INTEGER NOT NULL DEFAULT 0;
