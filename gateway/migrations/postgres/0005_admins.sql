-- Administrators of the gateway (`resetgate admin create NAME`): they sign in
-- to /v1/admin with a password and a TOTP code (gateway/src/admin.rs).
CREATE TABLE admins (
    username      TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    totp_secret   BYTEA NOT NULL,           -- TOTP seed, sealed with the server key
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL          -- unix seconds
);
