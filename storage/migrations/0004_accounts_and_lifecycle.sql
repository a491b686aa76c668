-- Evidence, entry criteria, accounts, workspaces, jobs, progress reports and the
-- lifecycle of institutions (BRIEF P1, P2, P3, P6, P7).

-- P2: the automatic entry-criteria checks, attached at submission (JSON).
ALTER TABLE applications ADD COLUMN criteria TEXT;

-- P1: qualification evidence files, kept in the database (each at most a few MiB).
CREATE TABLE evidence_files (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    uploaded_by     TEXT NOT NULL REFERENCES users (id),
    filename        TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    content         BLOB NOT NULL,
    uploaded_at     TEXT NOT NULL
);
CREATE INDEX evidence_by_application ON evidence_files (application_id);

-- P3: the account an approved application opened.
CREATE TABLE workspaces (
    institution_id  TEXT PRIMARY KEY REFERENCES institutions (id),
    application_id  TEXT NOT NULL UNIQUE REFERENCES applications (id),
    path            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at       TEXT NOT NULL,
    opened_by       TEXT NOT NULL,
    closed_at       TEXT
);

-- The public-credit tables an institution may query: its approved data supply list.
CREATE TABLE grants (
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    table_id        TEXT NOT NULL,
    granted_at      TEXT NOT NULL,
    granted_by      TEXT NOT NULL,
    PRIMARY KEY (institution_id, table_id)
);

CREATE TABLE quotas (
    institution_id        TEXT PRIMARY KEY REFERENCES institutions (id),
    concurrent_jobs       INTEGER NOT NULL CHECK (concurrent_jobs > 0),
    job_seconds_per_day   INTEGER NOT NULL CHECK (job_seconds_per_day > 0),
    storage_bytes         INTEGER NOT NULL CHECK (storage_bytes > 0),
    sampled_rows_per_day  INTEGER NOT NULL CHECK (sampled_rows_per_day >= 0),
    requests_per_minute   INTEGER NOT NULL CHECK (requests_per_minute > 0)
);

-- P7: suspensions, reinstatements and terminations, newest last.
CREATE TABLE lifecycle_events (
    seq                     INTEGER PRIMARY KEY,
    institution_id          TEXT NOT NULL REFERENCES institutions (id),
    action                  TEXT NOT NULL CHECK (action IN ('opened', 'suspended', 'reinstated', 'terminated')),
    reason                  TEXT NOT NULL,
    rectification_deadline  TEXT,
    actor                   TEXT NOT NULL,
    at                      TEXT NOT NULL
);
CREATE INDEX lifecycle_by_institution ON lifecycle_events (institution_id);

-- P7: what termination deleted, file by file with hashes (JSON).
CREATE TABLE deletion_records (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    files           TEXT NOT NULL,
    file_count      INTEGER NOT NULL,
    total_bytes     INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    deleted_at      TEXT NOT NULL
);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    submitted_by    TEXT NOT NULL REFERENCES users (id),
    sql             TEXT NOT NULL,
    state           TEXT NOT NULL
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    submitted_at    TEXT NOT NULL,
    ended_at        TEXT,
    error           TEXT,
    rows_in         INTEGER,
    rows_out        INTEGER,
    fuel            INTEGER,
    cpu_ms          INTEGER,
    wall_ms         INTEGER,
    result_schema   TEXT,
    result_bytes    INTEGER,
    result_sha256   TEXT
);
CREATE INDEX jobs_by_institution ON jobs (institution_id, submitted_at);

-- P8: the ledger of released rows (written by the output gate).
CREATE TABLE releases (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    kind            TEXT NOT NULL CHECK (kind IN ('sample', 'aggregate', 'evaluation')),
    rows            INTEGER NOT NULL,
    fingerprint     TEXT NOT NULL,
    released_by     TEXT NOT NULL REFERENCES users (id),
    released_at     TEXT NOT NULL
);
CREATE INDEX releases_by_institution ON releases (institution_id, released_at);

-- P6: periodic progress reports.
CREATE TABLE progress_reports (
    id                TEXT PRIMARY KEY,
    institution_id    TEXT NOT NULL REFERENCES institutions (id),
    period_start      TEXT NOT NULL,
    period_end        TEXT NOT NULL,
    progress          TEXT NOT NULL,
    security_risks    TEXT NOT NULL,
    quality_problems  TEXT NOT NULL,
    submitted_by      TEXT NOT NULL REFERENCES users (id),
    submitted_at      TEXT NOT NULL,
    UNIQUE (institution_id, period_start)
);

-- P7: measured usage, per institution and UTC day.
CREATE TABLE usage_daily (
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    day             TEXT NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 0,
    refusals        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (institution_id, day)
);

-- P7: periodic re-evaluations, built from measured usage.
CREATE TABLE evaluations (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    measures        TEXT NOT NULL,
    conclusion      TEXT NOT NULL CHECK (conclusion IN ('good', 'adequate', 'poor')),
    note            TEXT NOT NULL,
    evaluated_by    TEXT NOT NULL REFERENCES users (id),
    evaluated_at    TEXT NOT NULL
);
