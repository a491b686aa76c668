-- Objections are accepted (受理) before they mark anything (standard 6.4.2-6.4.4,
-- issue 17): filed as `received`, checked by the service provider for completeness and
-- accuracy, then either accepted (`open`: the record marked 异议处理中 and dispatched
-- to its source unit, done within 5 working days of the acceptance) or returned
-- (`returned`, 退回, with the reason, 6.4.5). An objection filed by the record's own
-- subject signed in, or recorded by staff from a letter, is accepted as it is filed.
-- SQLite cannot change a CHECK constraint: the table is rebuilt. Objections filed
-- before this were accepted as they were filed.
CREATE TABLE objections_accepted (
    id              TEXT PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    -- SHA-256 of the filer's follow-up token, shown once at filing.
    token_sha256    TEXT NOT NULL,
    filed_by        TEXT REFERENCES users (id),
    applicant_name  TEXT NOT NULL,
    -- USCC or citizen ID number of the applicant.
    applicant_code  TEXT NOT NULL,
    phone           TEXT NOT NULL,
    content         TEXT NOT NULL,
    record_table    TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    source_unit     TEXT NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('received', 'open', 'corrected', 'withdrawn', 'upheld', 'returned')),
    filed_at        TEXT NOT NULL,
    accepted_at     TEXT,
    accepted_by     TEXT REFERENCES users (id),
    -- The day by which it must be done: 5 working days from the day it was accepted.
    due_on          TEXT,
    resolved_at     TEXT,
    resolved_by     TEXT REFERENCES users (id),
    resolution      TEXT,
    due_provisional INTEGER NOT NULL DEFAULT 0,
    CHECK ((status IN ('received', 'open')) = (resolved_at IS NULL)),
    CHECK ((status IN ('received', 'returned')) = (accepted_at IS NULL)),
    CHECK ((accepted_at IS NULL) = (due_on IS NULL))
);
INSERT INTO objections_accepted (
    id, number, token_sha256, filed_by, applicant_name, applicant_code, phone, content,
    record_table, record_id, subject_id, source_unit, status, filed_at, accepted_at,
    accepted_by, due_on, resolved_at, resolved_by, resolution, due_provisional
)
SELECT id, number, token_sha256, filed_by, applicant_name, applicant_code, phone, content,
       record_table, record_id, subject_id, source_unit, status, filed_at, filed_at,
       filed_by, due_on, resolved_at, resolved_by, resolution, due_provisional
FROM objections;
DROP TABLE objections;
ALTER TABLE objections_accepted RENAME TO objections;
CREATE INDEX objections_open ON objections (status, source_unit);
CREATE INDEX objections_by_record ON objections (record_id, status);
