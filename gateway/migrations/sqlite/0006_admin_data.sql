-- API keys of machine clients (gateway/src/api_keys.rs): only the key's
-- SHA-256 is kept.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY NOT NULL,      -- ULID
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,           -- hex SHA-256 of the key
    scopes     TEXT NOT NULL,                  -- space-separated: evaluate read admin
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,               -- unix seconds
    revoked_at INTEGER
);

-- Every risk policy uploaded or read from risk.policy (gateway/src/policies.rs).
CREATE TABLE policy_versions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    TEXT NOT NULL UNIQUE,           -- declared version + content hash
    text       TEXT NOT NULL,
    author     TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

-- Which version is live (or the shadow candidate): the latest row of a role.
CREATE TABLE policy_activations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    role         TEXT NOT NULL,                -- live | shadow
    version_id   INTEGER REFERENCES policy_versions(id),   -- NULL: shadow off
    activated_by TEXT NOT NULL,
    activated_at INTEGER NOT NULL
);
CREATE INDEX policy_activations_by_role ON policy_activations(role, id);

-- Small values shared by the nodes.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Decisions and other records by kind, newest first (the admin API).
CREATE INDEX audit_log_by_kind ON audit_log(kind, seq);
