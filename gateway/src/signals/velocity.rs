//! Velocity: sliding-window counts in the ephemeral store, one atomic round
//! trip per request.

use std::time::{Duration, SystemTime};

use risk::Velocity;

use crate::store::ephemeral::{Ephemeral, StoreError, WindowOp, keys};

const HOUR: Duration = Duration::from_hours(1);
const DAY: Duration = Duration::from_hours(24);

fn op(key: &str, window: Duration, record: bool) -> WindowOp<'_> {
    WindowOp {
        key,
        window,
        record,
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Record a reset start for `account` from `address` and read every velocity
/// signal, in one call.
pub async fn on_start(
    store: &dyn Ephemeral,
    account: &str,
    address: &str,
    now: SystemTime,
) -> Result<Velocity, StoreError> {
    let (a1, a24, ip1) = (
        keys::count("start", account, "1h"),
        keys::count("start", account, "24h"),
        keys::count("start-addr", address, "1h"),
    );
    let (f1, fip1) = (
        keys::count("fail", account, "1h"),
        keys::count("fail-addr", address, "1h"),
    );
    let counts = store
        .windows(
            &[
                op(&a1, HOUR, true),
                op(&a24, DAY, true),
                op(&ip1, HOUR, true),
                op(&f1, HOUR, false),
                op(&fip1, HOUR, false),
            ],
            now,
        )
        .await?;
    Ok(Velocity {
        account_attempts_1h: saturate(counts[0]),
        account_attempts_24h: saturate(counts[1]),
        address_attempts_1h: saturate(counts[2]),
        account_failures_1h: saturate(counts[3]),
        address_failures_1h: saturate(counts[4]),
    })
}

/// Record a failed verification; returns the account's failures within
/// `lock_window` (the per-account limit across flows).
pub async fn record_failure(
    store: &dyn Ephemeral,
    account: &str,
    address: &str,
    lock_window: Duration,
    now: SystemTime,
) -> Result<u64, StoreError> {
    let keys = [
        keys::count("fail", account, "1h"),
        keys::count("fail-addr", address, "1h"),
        keys::count("fail", account, "limit"),
    ];
    let counts = store
        .windows(
            &[
                WindowOp {
                    key: &keys[0],
                    window: HOUR,
                    record: true,
                },
                WindowOp {
                    key: &keys[1],
                    window: HOUR,
                    record: true,
                },
                WindowOp {
                    key: &keys[2],
                    window: lock_window,
                    record: true,
                },
            ],
            now,
        )
        .await?;
    Ok(counts[2])
}

/// The account's failures within `lock_window`, without recording.
pub async fn account_failures(
    store: &dyn Ephemeral,
    account: &str,
    lock_window: Duration,
    now: SystemTime,
) -> Result<u64, StoreError> {
    let key = keys::count("fail", account, "limit");
    let counts = store
        .windows(
            &[WindowOp {
                key: &key,
                window: lock_window,
                record: false,
            }],
            now,
        )
        .await?;
    Ok(counts[0])
}

/// Count an event in a window and return the count including it (login
/// failures, enrolment sends).
pub async fn bump(
    store: &dyn Ephemeral,
    what: &str,
    subject: &str,
    window: Duration,
    record: bool,
    now: SystemTime,
) -> Result<u64, StoreError> {
    let key = keys::count(what, subject, &window.as_secs().to_string());
    Ok(store
        .windows(
            &[WindowOp {
                key: &key,
                window,
                record,
            }],
            now,
        )
        .await?[0])
}
