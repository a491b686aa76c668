-- Expert review (issue #4, BRIEF P3): reviewers' affiliations (for conflicts of
-- interest), assignments, reviews and the recorded decision.

CREATE TABLE reviewer_affiliations (
    user_id  TEXT NOT NULL REFERENCES users (id),
    uscc     TEXT NOT NULL,
    PRIMARY KEY (user_id, uscc)
);

CREATE TABLE application_reviewers (
    application_id  TEXT NOT NULL REFERENCES applications (id),
    reviewer_id     TEXT NOT NULL REFERENCES users (id),
    assigned_by     TEXT NOT NULL REFERENCES users (id),
    assigned_at     TEXT NOT NULL,
    PRIMARY KEY (application_id, reviewer_id)
);

CREATE TABLE reviews (
    application_id  TEXT NOT NULL REFERENCES applications (id),
    reviewer_id     TEXT NOT NULL REFERENCES users (id),
    compliance      INTEGER NOT NULL CHECK (compliance BETWEEN 0 AND 100),
    innovation      INTEGER NOT NULL CHECK (innovation BETWEEN 0 AND 100),
    prospects       INTEGER NOT NULL CHECK (prospects BETWEEN 0 AND 100),
    opinion         TEXT NOT NULL,
    submitted_at    TEXT NOT NULL,
    PRIMARY KEY (application_id, reviewer_id)
);

CREATE TABLE decisions (
    application_id  TEXT PRIMARY KEY REFERENCES applications (id),
    decision        TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason          TEXT NOT NULL,
    decided_by      TEXT NOT NULL REFERENCES users (id),
    decided_at      TEXT NOT NULL
);
