-- Analysts' labels of recorded decisions (gateway/src/decisions.rs): the
-- latest label of each decision.
CREATE TABLE decision_labels (
    seq         INTEGER PRIMARY KEY NOT NULL,  -- the reset.started audit record's number
    label       TEXT NOT NULL,                 -- attack | legitimate
    note        TEXT NOT NULL,
    labelled_by TEXT NOT NULL,
    labelled_at INTEGER NOT NULL               -- unix seconds
);
