-- Applications to join the product pool (issue #4, BRIEF P1). The form is kept as JSON
-- (its fields follow 附件2 and will grow); what the workflow queries has columns.

CREATE TABLE applications (
    id            TEXT PRIMARY KEY,
    applicant_id  TEXT NOT NULL REFERENCES users (id),
    status        TEXT NOT NULL
                  CHECK (status IN ('draft', 'submitted', 'under_review', 'approved', 'rejected')),
    form          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    submitted_at  TEXT
);
CREATE INDEX applications_by_applicant ON applications (applicant_id);
