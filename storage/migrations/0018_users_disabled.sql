-- Issue 15: administrators disable and re-enable users (audited, with a reason); a
-- disabled user's credentials are revoked and no new ones are issued.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
