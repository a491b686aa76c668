-- Second factors (issue 15): one TOTP secret per user, sealed under the platform's
-- second-factor key; pending until a login gives one of its codes (confirmed_at).
-- last_step is the last time step a code was accepted for: no code is taken twice.
CREATE TABLE second_factors (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    sealed_secret BLOB NOT NULL,
    created_at TEXT NOT NULL,
    confirmed_at TEXT,
    last_step INTEGER NOT NULL DEFAULT 0
);

-- Single-use recovery codes, as SHA-256 hashes.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT,
    PRIMARY KEY (user_id, code_hash)
);
