-- An administrator's passkeys, the other second factor of the admin sign-in
-- (gateway/src/admin_webauthn.rs): a JSON list of webauthn-rs passkeys,
-- sealed with the server key; NULL when none is registered.
ALTER TABLE admins ADD COLUMN webauthn BYTEA;
