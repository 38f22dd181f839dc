//! The reset path's reads on `SQLite`, on the direct connections
//! ([`super::direct`]): the user row, the factors, the lock, the history,
//! and all of them at once for one attempt ([`SqliteStore::attempt`]).

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::SqliteStore;
use crate::store::durable::history::{LastRow, MAX_PLACES, assemble, counts_from_rows, wanted};
use crate::store::durable::{
    AccountLock, AttemptQuery, AttemptReads, DurableError, FactorRecord, HistoryRecord, Place,
    STAND_IN, UserRecord, real_user,
};

/// One row for every name (see `STAND_IN`): an unknown name costs what a
/// known one does.
const USER: &str =
    "SELECT username, password_hash, email, disabled, created_at, password_changed_at
     FROM (SELECT username, password_hash, email, disabled, created_at,
                  password_changed_at, 0 AS stand_in
           FROM users WHERE username = ?1
           UNION ALL
           SELECT '', ?2, ?3, 1, 0, 0, 1)
     ORDER BY stand_in LIMIT 1";

const FACTORS: &str =
    "SELECT id, username, kind, label, secret, phone, provisioned, created_at, last_used_at
     FROM factors WHERE username = ?1 ORDER BY created_at, id";

const LOCK: &str = "SELECT locked_at, reason FROM account_locks WHERE username = ?1";

const KNOWN: &str = "SELECT level, value FROM feature_counts
     WHERE scope = ?1 AND level IN ('country', 'asn', 'browser') ORDER BY level, value";

/// One place per distinct city (or rounded position), most recent first.
const PLACES: &str = "SELECT lat, lon, COALESCE(accuracy_km, 0.0) FROM account_events WHERE id IN (
         SELECT MAX(id) FROM account_events
         WHERE username = ?1 AND lat IS NOT NULL AND lon IS NOT NULL
         GROUP BY COALESCE(country || '/' || city, printf('%.1f,%.1f', lat, lon)))
     ORDER BY id DESC LIMIT ?2";

const LAST: &str = "SELECT at, lat, lon, accuracy_km FROM account_events
     WHERE username = ?1 ORDER BY at DESC, id DESC LIMIT 1";

const DEVICE: &str =
    "SELECT EXISTS (SELECT 1 FROM known_devices WHERE username = ?1 AND device_id = ?2)";

/// A primary-key lookup per (scope, level, value). (An `OR` of the pairs made
/// `SQLite` scan every global row — one per address, network and browser ever
/// seen — so each read grew with the history.)
pub(super) const COUNT: &str =
    "SELECT count FROM feature_counts WHERE scope = ?1 AND level = ?2 AND value = ?3";

fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        username: row.get(0)?,
        password_hash: row.get(1)?,
        email: row.get(2)?,
        disabled: row.get(3)?,
        created_at: row.get(4)?,
        password_changed_at: row.get(5)?,
    })
}

fn factor_row(row: &Row<'_>) -> rusqlite::Result<FactorRecord> {
    Ok(FactorRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        kind: row.get(2)?,
        label: row.get(3)?,
        secret: row.get(4)?,
        phone: row.get(5)?,
        provisioned: row.get(6)?,
        created_at: row.get(7)?,
        last_used_at: row.get(8)?,
    })
}

pub(super) fn user(tx: &Connection, username: &str) -> Result<Option<UserRecord>, DurableError> {
    let row = tx.prepare_cached(USER)?.query_row(
        params![username, STAND_IN.password_hash, STAND_IN.email],
        user_row,
    )?;
    Ok(real_user(row))
}

pub(super) fn factors(tx: &Connection, username: &str) -> Result<Vec<FactorRecord>, DurableError> {
    let mut stmt = tx.prepare_cached(FACTORS)?;
    let rows = stmt.query_map([username], factor_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn lock(tx: &Connection, username: &str) -> Result<Option<AccountLock>, DurableError> {
    Ok(tx
        .prepare_cached(LOCK)?
        .query_row([username], |row| {
            Ok(AccountLock {
                locked_at: row.get(0)?,
                reason: row.get(1)?,
            })
        })
        .optional()?)
}

/// One place per distinct city, most recent first.
pub(super) fn places(tx: &Connection, username: &str) -> Result<Vec<Place>, DurableError> {
    Ok(tx
        .prepare_cached(PLACES)?
        .query_map(params![username, MAX_PLACES], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

/// The account's latest event.
pub(super) fn last(tx: &Connection, username: &str) -> Result<Option<LastRow>, DurableError> {
    Ok(tx
        .prepare_cached(LAST)?
        .query_row([username], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?)
}

pub(super) fn history(
    tx: &Connection,
    username: &str,
    current: &[(&'static str, Option<String>)],
    device_id: Option<&str>,
) -> Result<HistoryRecord, DurableError> {
    let known = tx
        .prepare_cached(KNOWN)?
        .query_map([username], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let places = places(tx, username)?;
    let last = last(tx, username)?;
    let device_known = match device_id {
        Some(id) => tx
            .prepare_cached(DEVICE)?
            .query_row([username, id], |row| row.get(0))?,
        None => false,
    };
    let mut count = tx.prepare_cached(COUNT)?;
    let mut rows = Vec::new();
    for scope in [username, ""] {
        for (level, value) in wanted(current) {
            let found: Option<i64> = count
                .query_row([scope, level, value], |row| row.get(0))
                .optional()?;
            if let Some(n) = found {
                rows.push((scope.to_owned(), level.to_owned(), n));
            }
        }
    }
    let counts = counts_from_rows(&rows, username, current);
    Ok(assemble(known, places, last, device_known, counts))
}

impl SqliteStore {
    /// [`history`] on a reader (`HistoryStore::history`, in `history.rs`).
    pub(in crate::store::durable) async fn read_history(
        &self,
        username: &str,
        current: &[(&'static str, Option<String>)],
        device_id: Option<&str>,
    ) -> Result<HistoryRecord, DurableError> {
        let (username, current) = (username.to_owned(), current.to_vec());
        let device_id = device_id.map(str::to_owned);
        self.direct
            .read(move |tx| history(tx, &username, &current, device_id.as_deref()))
            .await
    }

    /// Every read of one attempt in one transaction on one connection,
    /// through the copies kept in memory ([`super::read_model`]).
    pub(super) async fn attempt_reads(
        &self,
        request: AttemptQuery,
    ) -> Result<AttemptReads, DurableError> {
        let model = std::sync::Arc::clone(&self.read_model);
        self.direct
            .read(move |tx| model.attempt(tx, &request))
            .await
    }
}
