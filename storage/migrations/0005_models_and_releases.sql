-- Models uploaded by institutions, and what the output gate needs to trace releases
-- (BRIEF P5, P8).

CREATE TABLE models (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    manifest        TEXT NOT NULL,
    path            TEXT NOT NULL,
    uploaded_by     TEXT NOT NULL REFERENCES users (id),
    uploaded_at     TEXT NOT NULL,
    deleted_at      TEXT
);
-- One active model per SQL function name in an institution.
CREATE UNIQUE INDEX models_active_name ON models (institution_id, name) WHERE deleted_at IS NULL;

-- Per released row, its SHA-256 (JSON array), so that a leaked row finds its release.
ALTER TABLE releases ADD COLUMN row_hashes TEXT NOT NULL DEFAULT '[]';
-- What was asked (aggregate or evaluation parameters, JSON).
ALTER TABLE releases ADD COLUMN request TEXT NOT NULL DEFAULT '{}';
