-- The gate's differencing check (issue 14): each released group of an aggregate or
-- evaluation keeps a sketch of its subjects (an invertible Bloom lookup table of their
-- keyed hashes, gateway/src/sketch.rs), so that a later release whose group differs from
-- it by fewer than k subjects is refused. The exact count narrows the comparison (two
-- sets whose sizes differ by k or more cannot differ by fewer than k subjects); it is
-- the platform's, never shown.
CREATE TABLE release_groups (
    release_id      TEXT NOT NULL REFERENCES releases (id),
    institution_id  TEXT NOT NULL,
    subjects        INTEGER NOT NULL,
    sketch          BLOB NOT NULL
);
CREATE INDEX release_groups_by_size ON release_groups (institution_id, subjects);

-- Aggregates and evaluations released in any 24 hours.
ALTER TABLE quotas ADD COLUMN statistical_releases_per_day INTEGER NOT NULL DEFAULT 50;
