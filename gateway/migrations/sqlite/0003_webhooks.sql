-- SOC webhooks (gateway/src/webhooks): endpoints, the outbox, deliveries and
-- their attempts. A message is written in the same transaction as the audit
-- record of the event it reports, so an acknowledged event is never lost; the
-- dispatcher routes it to the endpoints that want it (one delivery each) and
-- leases due deliveries so that two nodes do not send the same one.

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,          -- JSON array: ["*"] or event type names
    min_level       TEXT NOT NULL,          -- low | medium | high | deny
    source          TEXT NOT NULL,          -- config | api
    secrets         BLOB,                   -- api: sealed signing secrets; config: NULL (kept in the config)
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,                   -- set when the receiver answered 410 Gone
    disabled_at     INTEGER,                -- unix ms
    created_at      INTEGER NOT NULL        -- unix ms
);

CREATE TABLE webhook_messages (
    id         TEXT PRIMARY KEY NOT NULL,   -- msg_<ULID>: the webhook-id header
    kind       TEXT NOT NULL,               -- event type, e.g. risk.high
    level      TEXT,                        -- the assessment's level, if any
    created_at INTEGER NOT NULL,            -- unix ms
    body       TEXT NOT NULL,               -- the exact body every attempt sends
    routed     INTEGER NOT NULL DEFAULT 0   -- deliveries created
);
CREATE INDEX webhook_messages_unrouted ON webhook_messages(created_at) WHERE routed = 0;

CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL REFERENCES webhook_messages(id),
    endpoint_id TEXT NOT NULL,
    state       TEXT NOT NULL,              -- pending | delivered | dead
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,           -- unix ms: due from then
    lease_until INTEGER NOT NULL DEFAULT 0, -- unix ms: a node is sending it until then
    lease       TEXT,                       -- that node's claim, checked when it reports
    last_status INTEGER,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(endpoint_id, state, next_at);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    at          INTEGER NOT NULL,           -- unix ms
    status      INTEGER,                    -- HTTP status; NULL when none came back
    latency_ms  INTEGER NOT NULL,
    error       TEXT                        -- why it failed (never a secret)
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id, id);
