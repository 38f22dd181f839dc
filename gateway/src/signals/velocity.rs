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

/// Record a failed verification (the `*_failures_1h` risk signals).
pub async fn record_failure(
    store: &dyn Ephemeral,
    account: &str,
    address: &str,
    now: SystemTime,
) -> Result<(), StoreError> {
    let keys = [
        keys::count("fail", account, "1h"),
        keys::count("fail-addr", address, "1h"),
    ];
    store
        .windows(&[op(&keys[0], HOUR, true), op(&keys[1], HOUR, true)], now)
        .await?;
    Ok(())
}

/// Count a code attempt for `account` (right or wrong) within `window` and
/// return the count including this one. Counted before the code is checked, so
/// that parallel guesses cannot all pass a check made before any is recorded.
pub async fn code_attempt(
    store: &dyn Ephemeral,
    account: &str,
    window: Duration,
    now: SystemTime,
) -> Result<u64, StoreError> {
    let key = keys::count("code-attempt", account, "limit");
    Ok(store.windows(&[op(&key, window, true)], now).await?[0])
}

/// Count a code sent to `account`'s phone: (last hour, last day), including it.
pub async fn code_sent(
    store: &dyn Ephemeral,
    account: &str,
    now: SystemTime,
) -> Result<(u64, u64), StoreError> {
    let (hour, day) = (
        keys::count("sms", account, "1h"),
        keys::count("sms", account, "24h"),
    );
    let counts = store
        .windows(&[op(&hour, HOUR, true), op(&day, DAY, true)], now)
        .await?;
    Ok((counts[0], counts[1]))
}

/// Count a sign-in attempt: (for the account, for the address) within
/// `window`, including this one; counted before the password is checked.
pub async fn login_attempt(
    store: &dyn Ephemeral,
    account: &str,
    address: &str,
    window: Duration,
    now: SystemTime,
) -> Result<(u64, u64), StoreError> {
    let (a, b) = (
        keys::count("login", account, "limit"),
        keys::count("login-addr", address, "limit"),
    );
    let counts = store
        .windows(&[op(&a, window, true), op(&b, window, true)], now)
        .await?;
    Ok((counts[0], counts[1]))
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
