-- The working-day calendar as operational data (BRIEF Q8, Q9): years added by
-- administrators from the State Council's notice, on top of the years shipped with the
-- platform, without a rebuild.
CREATE TABLE calendar_years (
    year      INTEGER PRIMARY KEY,
    -- The notice as given (policies::calendar::YearNotice as JSON), checked when added.
    notice    TEXT NOT NULL,
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL
);

-- A deadline that ran into a year without data was counted on Monday-to-Friday days and
-- is recounted when that year is added.
ALTER TABLE objections ADD COLUMN due_provisional INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN due_provisional INTEGER NOT NULL DEFAULT 0;
