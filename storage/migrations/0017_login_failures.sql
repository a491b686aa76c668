-- Issue 15: failed logins are counted per (username as typed, client address), with
-- growing delays, and per username from every address ('*') under a far higher
-- ceiling. Unknown usernames are counted the same way, so that the answers do not tell
-- which usernames exist.
CREATE TABLE login_failures (
    username      TEXT NOT NULL,
    client        TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    first_at      TEXT NOT NULL,
    last_at       TEXT NOT NULL,
    locked_until  TEXT,
    alerted       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (username, client)
);
CREATE INDEX login_failures_by_age ON login_failures (last_at);
