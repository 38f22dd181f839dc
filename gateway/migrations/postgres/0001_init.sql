-- resetgate durable schema, PostgreSQL flavour: the tables, columns and keys of
-- ../sqlite/0001_init.sql. Unix seconds are BIGINT, flags BOOLEAN, sealed
-- secrets BYTEA; identity columns stand for SQLite's AUTOINCREMENT. Text that
-- queries order by is COLLATE "C", which compares bytes as SQLite's BINARY does,
-- whatever the database's locale.

-- Accounts of the built-in directory. `username` is the normalised account name.
CREATE TABLE users (
    username            TEXT PRIMARY KEY,
    password_hash       TEXT NOT NULL,          -- argon2id PHC string
    email               TEXT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,        -- unix seconds
    password_changed_at BIGINT NOT NULL
);

-- Earlier password hashes, newest last; trimmed to the configured depth.
CREATE TABLE password_history (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX password_history_by_user ON password_history(username, id);

-- Enrolled factors, for accounts of any directory (not a foreign key to users).
CREATE TABLE factors (
    id           TEXT COLLATE "C" PRIMARY KEY,  -- ULID
    username     TEXT NOT NULL,
    kind         TEXT NOT NULL,                 -- totp | sms
    label        TEXT NOT NULL,
    secret       BYTEA,                         -- TOTP seed, sealed with the server key
    phone        TEXT,                          -- E.164, for sms
    provisioned  BOOLEAN NOT NULL DEFAULT FALSE, -- set by an administrator: no cool-off
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX factors_by_user ON factors(username);

-- Append-only, hash-chained audit log (see gateway/src/audit.rs). Several nodes
-- append to it: the primary key on `seq` is what lets only one of them win a
-- position in the chain.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,                    -- RFC 3339 UTC
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    data      TEXT NOT NULL,                    -- JSON, as the chain hashed it
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
