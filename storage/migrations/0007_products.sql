-- Credit products (BRIEF P8, P9): registration (附件3), expert review, recommendation.

CREATE TABLE products (
    id              TEXT PRIMARY KEY,
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    status          TEXT NOT NULL
                    CHECK (status IN ('registered', 'under_review', 'recommended', 'not_recommended')),
    form            TEXT NOT NULL,
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    release_id      TEXT NOT NULL REFERENCES releases (id),
    data_items      TEXT NOT NULL,
    registered_by   TEXT NOT NULL REFERENCES users (id),
    registered_at   TEXT NOT NULL
);
CREATE INDEX products_by_institution ON products (institution_id);

CREATE TABLE product_reviewers (
    product_id   TEXT NOT NULL REFERENCES products (id),
    reviewer_id  TEXT NOT NULL REFERENCES users (id),
    assigned_by  TEXT NOT NULL REFERENCES users (id),
    assigned_at  TEXT NOT NULL,
    PRIMARY KEY (product_id, reviewer_id)
);

CREATE TABLE product_reviews (
    product_id     TEXT NOT NULL REFERENCES products (id),
    reviewer_id    TEXT NOT NULL REFERENCES users (id),
    market_demand  INTEGER NOT NULL CHECK (market_demand BETWEEN 0 AND 100),
    innovation     INTEGER NOT NULL CHECK (innovation BETWEEN 0 AND 100),
    management     INTEGER NOT NULL CHECK (management BETWEEN 0 AND 100),
    recommend      INTEGER NOT NULL CHECK (recommend IN (0, 1)),
    opinion        TEXT NOT NULL,
    submitted_at   TEXT NOT NULL,
    PRIMARY KEY (product_id, reviewer_id)
);

CREATE TABLE product_decisions (
    product_id   TEXT PRIMARY KEY REFERENCES products (id),
    recommended  INTEGER NOT NULL CHECK (recommended IN (0, 1)),
    reason       TEXT NOT NULL,
    decided_by   TEXT NOT NULL REFERENCES users (id),
    decided_at   TEXT NOT NULL
);
