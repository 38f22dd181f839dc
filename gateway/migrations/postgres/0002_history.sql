-- Account history: successful resets and sign-ins, and the counts the
-- per-account likelihood-ratio model (Freeman et al., NDSS 2016) reads.
-- The tables of ../sqlite/0002_history.sql, plus `place_key` (see below).

CREATE TABLE account_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- reset | login
    at          BIGINT NOT NULL,        -- unix seconds
    ip          TEXT,
    asn         BIGINT,
    country     TEXT,
    city        TEXT,
    lat         DOUBLE PRECISION,
    lon         DOUBLE PRECISION,
    accuracy_km DOUBLE PRECISION,
    browser     TEXT,
    os          TEXT,
    class       TEXT,
    ua          TEXT,
    device_id   TEXT,
    -- The "usual place" group of an event with a place: `country/city`, else
    -- the coordinates as SQLite's printf('%.1f,%.1f', lat, lon) prints them.
    -- SQLite computes it in the query; PostgreSQL has no formatting with the
    -- same rounding, so the gateway computes it once, when it records the event.
    place_key   TEXT
);
CREATE INDEX account_events_by_user ON account_events(username, at);

-- scope '' = all accounts; otherwise the account name. level '*' / value '*'
-- holds the total number of events of the scope.
CREATE TABLE feature_counts (
    scope TEXT COLLATE "C" NOT NULL,
    level TEXT COLLATE "C" NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (scope, level, value)
);

-- Device cookies bound to an account after a success.
CREATE TABLE known_devices (
    username   TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (username, device_id)
);
