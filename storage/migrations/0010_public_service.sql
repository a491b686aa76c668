-- no-transaction
-- The public service (BRIEF Q4, Q7–Q9, Q11): three more kinds of user, natural persons'
-- authorisations, objections, consultations and complaints.
--
-- SQLite cannot change a CHECK constraint, so the users table is rebuilt as its manual
-- prescribes (https://sqlite.org/lang_altertable.html, "other kinds of table schema
-- changes"): foreign keys off outside the transaction, copy, swap, check, commit. The
-- migration therefore runs without sqlx's own transaction.
PRAGMA foreign_keys = OFF;
BEGIN;

-- Reports are issued as JSON, printable HTML or PDF for a named requester (Q5, Q6): the
-- issued document's own hash is archived too, so a document can be checked byte for byte.
ALTER TABLE issued_reports ADD COLUMN format TEXT NOT NULL DEFAULT 'json';
ALTER TABLE issued_reports ADD COLUMN requester TEXT NOT NULL DEFAULT '';
ALTER TABLE issued_reports ADD COLUMN document_sha256 TEXT;
ALTER TABLE issued_reports ADD COLUMN subject_id TEXT;

CREATE TABLE users_new (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL
                    CHECK (role IN ('administrator', 'reviewer', 'institution', 'applicant',
                                    'agency_staff', 'source_unit', 'person')),
    institution_id  TEXT REFERENCES institutions (id),
    -- Agency staff: their agency; source-unit users: the unit, as records name it in
    -- their source_unit column.
    organisation    TEXT,
    -- Natural persons: their own subject_id in the persons register (P…), found from
    -- their name and ID number when they registered.
    subject_id      TEXT UNIQUE,
    password_hash   TEXT NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    CHECK ((role = 'institution') = (institution_id IS NOT NULL)),
    CHECK ((role IN ('agency_staff', 'source_unit')) = (organisation IS NOT NULL)),
    CHECK ((role = 'person') = (subject_id IS NOT NULL))
);
INSERT INTO users_new (id, username, display_name, role, institution_id, password_hash,
                       failed_logins, locked_until, created_at)
SELECT id, username, display_name, role, institution_id, password_hash, failed_logins,
       locked_until, created_at
FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- A natural person's authorisation for another user to see their record (Q4): scoped to
-- what may be seen, until a time, revocable; every use is audited.
CREATE TABLE authorisations (
    id            TEXT PRIMARY KEY,
    grantor_id    TEXT NOT NULL REFERENCES users (id),
    grantee_id    TEXT NOT NULL REFERENCES users (id),
    -- "records" (the disclosed records) or "report" (records and the credit report).
    scope         TEXT NOT NULL CHECK (scope IN ('records', 'report')),
    purpose       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    CHECK (grantor_id <> grantee_id)
);
CREATE INDEX authorisations_by_grantee ON authorisations (grantee_id, grantor_id);
CREATE INDEX authorisations_by_grantor ON authorisations (grantor_id);

-- Objections to public credit records (Q8): the filing, the record objected to, its
-- source unit's queue, the outcome, the deadline in working days.
CREATE TABLE objections (
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
    status          TEXT NOT NULL CHECK (status IN ('open', 'corrected', 'withdrawn', 'upheld')),
    filed_at        TEXT NOT NULL,
    -- The day by which it must be done: 5 working days from the filing day.
    due_on          TEXT NOT NULL,
    resolved_at     TEXT,
    resolved_by     TEXT REFERENCES users (id),
    resolution      TEXT,
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX objections_open ON objections (status, source_unit);
CREATE INDEX objections_by_record ON objections (record_id, status);

-- Consultations and complaints (Q9, Q11).
CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    token_sha256    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('consultation', 'complaint')),
    category        TEXT NOT NULL
                    CHECK (category IN ('information_query', 'credit_evaluation',
                                        'wrong_association', 'other')),
    channel         TEXT NOT NULL CHECK (channel IN ('platform', 'telephone', 'letter')),
    name            TEXT NOT NULL,
    contact         TEXT NOT NULL,
    content         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'answered')),
    filed_at        TEXT NOT NULL,
    due_on          TEXT NOT NULL,
    -- Working days allowed in all: 5, extended with a reason to at most 20.
    allowed_days    INTEGER NOT NULL DEFAULT 5 CHECK (allowed_days BETWEEN 5 AND 20),
    extension_reason TEXT,
    answer          TEXT,
    answered_at     TEXT,
    answered_by     TEXT REFERENCES users (id),
    rating          INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment  TEXT,
    rated_at        TEXT,
    CHECK ((status = 'answered') = (answered_at IS NOT NULL))
);
CREATE INDEX tickets_open ON tickets (status, due_on);

-- Verification requests of agencies and their feedback letters (Q7, 附录B).
CREATE TABLE verifications (
    id              TEXT PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    requested_by    TEXT NOT NULL REFERENCES users (id),
    agency          TEXT NOT NULL,
    matter          TEXT NOT NULL,
    letter_title    TEXT NOT NULL,
    -- The subjects as listed, and what was found: JSON arrays.
    subjects        TEXT NOT NULL,
    results         TEXT NOT NULL,
    cut_off_at      TEXT NOT NULL,
    letter_sha256   TEXT NOT NULL,
    -- The feedback letter as issued (PDF), archived (Q6).
    letter          BLOB NOT NULL
);
CREATE INDEX verifications_by_agency ON verifications (agency, cut_off_at);

-- One row per minute the service was up (Q10): availability and downtime span restarts.
CREATE TABLE heartbeats (
    minute  TEXT PRIMARY KEY
);

COMMIT;
PRAGMA foreign_keys = ON;
