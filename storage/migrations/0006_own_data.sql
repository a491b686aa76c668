-- Institutions' own tables and how they share them (BRIEF P5).

CREATE TABLE own_tables (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    name            TEXT NOT NULL,
    columns         TEXT NOT NULL,
    rows            INTEGER NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    path            TEXT NOT NULL,
    sharing         TEXT NOT NULL CHECK (sharing IN ('private', 'institutions', 'pool')),
    uploaded_by     TEXT NOT NULL REFERENCES users (id),
    uploaded_at     TEXT NOT NULL,
    deleted_at      TEXT
);
CREATE UNIQUE INDEX own_tables_active_name ON own_tables (institution_id, name) WHERE deleted_at IS NULL;

CREATE TABLE own_table_shares (
    table_id        TEXT NOT NULL REFERENCES own_tables (id),
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    PRIMARY KEY (table_id, institution_id)
);
