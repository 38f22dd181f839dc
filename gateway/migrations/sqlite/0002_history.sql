-- Account history: successful resets and sign-ins, and the counts the
-- per-account likelihood-ratio model (Freeman et al., NDSS 2016) reads.

CREATE TABLE account_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    username    TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- reset | login
    at          INTEGER NOT NULL,       -- unix seconds
    ip          TEXT,
    asn         INTEGER,
    country     TEXT,
    city        TEXT,
    lat         REAL,
    lon         REAL,
    accuracy_km REAL,
    browser     TEXT,
    os          TEXT,
    class       TEXT,
    ua          TEXT,
    device_id   TEXT
);
CREATE INDEX account_events_by_user ON account_events(username, at);

-- scope '' = all accounts; otherwise the account name. level '*' / value '*'
-- holds the total number of events of the scope.
CREATE TABLE feature_counts (
    scope TEXT NOT NULL,
    level TEXT NOT NULL,
    value TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (scope, level, value)
);

-- Device cookies bound to an account after a success.
CREATE TABLE known_devices (
    username   TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (username, device_id)
);
