-- Accounts whose resets are locked: the owner followed the "this wasn't me"
-- link of a notice (gateway/src/lock.rs). For accounts of any directory; a
-- locked account's resets get the decoy treatment until an operator unlocks it.
CREATE TABLE account_locks (
    username  TEXT COLLATE "C" PRIMARY KEY,
    locked_at BIGINT  NOT NULL,             -- unix seconds
    reason    TEXT NOT NULL                 -- e.g. reported_by_owner
);
