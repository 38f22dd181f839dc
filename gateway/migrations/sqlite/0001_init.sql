-- resetgate durable schema, SQLite flavour.

-- Accounts of the built-in directory. `username` is the normalised account name.
CREATE TABLE users (
    username            TEXT PRIMARY KEY NOT NULL,
    password_hash       TEXT NOT NULL,          -- argon2id PHC string
    email               TEXT,
    disabled            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,       -- unix seconds
    password_changed_at INTEGER NOT NULL
);

-- Earlier password hashes, newest last; trimmed to the configured depth.
CREATE TABLE password_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX password_history_by_user ON password_history(username, id);

-- Enrolled factors, for accounts of any directory (not a foreign key to users).
CREATE TABLE factors (
    id           TEXT PRIMARY KEY NOT NULL,     -- ULID
    username     TEXT NOT NULL,
    kind         TEXT NOT NULL,                 -- totp | sms
    label        TEXT NOT NULL,
    secret       BLOB,                          -- TOTP seed, sealed with the server key
    phone        TEXT,                          -- E.164, for sms
    provisioned  INTEGER NOT NULL DEFAULT 0,    -- set by an administrator: no cool-off
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX factors_by_user ON factors(username);

-- Append-only, hash-chained audit log (see gateway/src/audit.rs).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at        TEXT NOT NULL,                    -- RFC 3339 UTC
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    data      TEXT NOT NULL,                    -- JSON
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
