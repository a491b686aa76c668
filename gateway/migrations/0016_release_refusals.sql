-- Issue 14: an aggregate or evaluation refused for what the data held (too few subjects,
-- differencing, rows without a subject) is an answer too; each is recorded and counts
-- against statistical_releases_per_day like a release.
CREATE TABLE release_refusals (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    job_id          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('aggregate', 'evaluation')),
    reason          TEXT NOT NULL,
    refused_at      TEXT NOT NULL
);
CREATE INDEX release_refusals_by_institution ON release_refusals (institution_id, refused_at);
