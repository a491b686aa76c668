-- The own and shared tables a job was given, by the name its SQL used (JSON object
-- name → table id), so that a release is judged against exactly those tables.
ALTER TABLE jobs ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}';
