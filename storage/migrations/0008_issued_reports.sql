-- Every issued public credit report, archived with its hash (BRIEF Q5, Q6).

CREATE TABLE issued_reports (
    number          TEXT PRIMARY KEY,
    uscc            TEXT NOT NULL,
    subject_name    TEXT NOT NULL,
    content_sha256  TEXT NOT NULL,
    content         BLOB NOT NULL,
    issued_at       TEXT NOT NULL
);
CREATE INDEX issued_reports_by_uscc ON issued_reports (uscc);
