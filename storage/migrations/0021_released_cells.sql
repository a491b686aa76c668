-- Issue 19 (P8): leak tracing from the rows themselves. Each cell a sample released, as
-- it was shown (normalised text), keyed with the gate's secret, with its row and the
-- row's number of distinct cells: rows pasted from a leak are matched against them,
-- whichever columns were kept and however a spreadsheet reformatted the numbers.
CREATE TABLE released_cells (
    release_id  TEXT NOT NULL REFERENCES releases (id),
    row_index   INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    cell        TEXT NOT NULL
);
CREATE INDEX released_cells_by_cell ON released_cells (cell);
