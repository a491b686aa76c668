-- Issue 14: a release refused (a sample, an aggregate or an evaluation: too few rows or
-- subjects, differencing, a sampled cell too wide, ...) is an answer too; each is
-- recorded and counts against statistical_releases_per_day like an aggregate.
CREATE TABLE release_refusals (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    job_id          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('sample', 'aggregate', 'evaluation')),
    reason          TEXT NOT NULL,
    refused_at      TEXT NOT NULL
);
CREATE INDEX release_refusals_by_institution ON release_refusals (institution_id, refused_at);
