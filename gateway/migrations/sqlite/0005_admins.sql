-- Administrators of the gateway (`resetgate admin create NAME`): they sign in
-- to /v1/admin with a password and a TOTP code (gateway/src/admin.rs).
CREATE TABLE admins (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    totp_secret   BLOB NOT NULL,            -- TOTP seed, sealed with the server key
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL          -- unix seconds
);
