-- The lifetime bound of samples per source table (issue 14): rows an institution was
-- given in samples of a query that read each public-credit table, never reset.
CREATE TABLE release_tables (
    release_id      TEXT NOT NULL REFERENCES releases (id),
    institution_id  TEXT NOT NULL,
    source_table    TEXT NOT NULL,
    rows            INTEGER NOT NULL
);
CREATE INDEX release_tables_by_table ON release_tables (institution_id, source_table);
