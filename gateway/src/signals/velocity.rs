//! Velocity: sliding-window counts in the ephemeral store, one atomic round
//! trip per request.
//!
//! # Two lanes per account
//!
//! The per-account counters (attempts, failures, codes tried) are kept twice:
//! the *open* lane counts every attempt, and the *known-device* lane counts only
//! attempts from a device bound to the account (its device cookie was on one of
//! the account's completed resets). An attempt from such a device reads the
//! known-device lane; every other attempt reads the open lane. Strangers, who
//! have no such cookie, can fill the open lane as fast as they like without
//! touching the owner's: the owner on her own device is neither pushed to a
//! refusal nor locked out of codes by them (NIST SP 800-63B-4 §3.2.2: rate
//! limiting must not let an attacker deny the subscriber). Known-device attempts
//! also count in the open lane, so the open lane is every attempt there is. A
//! stolen device cookie buys no more than its own lane's limits, on top of the
//! per-flow and per-address ones.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use risk::Velocity;

use crate::store::ephemeral::{Ephemeral, StoreError, WindowOp, keys};

const HOUR: Duration = Duration::from_hours(1);
const DAY: Duration = Duration::from_hours(24);

fn op(key: &str, window: Duration, record: bool) -> WindowOp<'_> {
    if record {
        WindowOp::hit(key, window)
    } else {
        WindowOp::peek(key, window)
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The key of an account counter in `lane` (see the module docs).
fn account_key(what: &str, lane: Lane, account: &str, window: &str) -> String {
    match lane {
        Lane::Open => keys::count(what, account, window),
        Lane::KnownDevice => keys::count(&format!("{what}-kd"), account, window),
    }
}

/// Which of an account's counters an attempt reads (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// Every attempt.
    #[default]
    Open,
    /// Attempts from a device bound to the account.
    KnownDevice,
}

impl Lane {
    /// The lane of an attempt whose device is (`true`) or is not bound to the account.
    pub fn of(known_device: bool) -> Self {
        if known_device {
            Self::KnownDevice
        } else {
            Self::Open
        }
    }
}

/// Where a reset start comes from, as the counters key it.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub account: &'a str,
    /// The account counters' lane the attempt reads.
    pub lane: Lane,
    /// The address's bucket (IPv6: its /64).
    pub address: &'a str,
    /// The /24 (IPv4) or /48 (IPv6) around the address.
    pub subnet: &'a str,
    pub asn: Option<u32>,
}

/// Record a reset start (when `record`) and read every velocity signal, in one atomic call:
/// attempts per account (1 h, 24 h), per address, per subnet and per ASN;
/// distinct accounts per address and per ASN (spray); recent failures. The
/// account's counters are read from the origin's lane; a known-device start is
/// recorded in the open lane too.
pub async fn gather(
    store: &dyn Ephemeral,
    o: &Origin<'_>,
    record: bool,
    now: SystemTime,
) -> Result<Velocity, StoreError> {
    let asn = o.asn.map(|a| a.to_string()).unwrap_or_default();
    let k = [
        account_key("start", o.lane, o.account, "1h"),
        account_key("start", o.lane, o.account, "24h"),
        keys::count("start-addr", o.address, "1h"),
        keys::count("start-net", o.subnet, "1h"),
        keys::count("start-asn", &asn, "1h"),
        keys::count("accounts-addr", o.address, "1h"),
        keys::count("accounts-asn", &asn, "1h"),
        account_key("fail", o.lane, o.account, "1h"),
        keys::count("fail-addr", o.address, "1h"),
    ];
    let open = [
        keys::count("start", o.account, "1h"),
        keys::count("start", o.account, "24h"),
    ];
    let distinct = |key, member| {
        if record {
            WindowOp::distinct(key, HOUR, member)
        } else {
            WindowOp::peek_distinct(key, HOUR)
        }
    };
    let mut ops = vec![
        op(&k[0], HOUR, record),
        op(&k[1], DAY, record),
        op(&k[2], HOUR, record),
        op(&k[3], HOUR, record),
        distinct(&k[5], o.account),
        op(&k[7], HOUR, false),
        op(&k[8], HOUR, false),
    ];
    // Where each optional op went, so no count is read from another's slot.
    let asn_at = o.asn.is_some().then(|| {
        ops.push(op(&k[4], HOUR, record));
        ops.push(distinct(&k[6], o.account));
        ops.len() - 2
    });
    // The open lane hears of a known device's start as well (counts unread).
    if record && o.lane == Lane::KnownDevice {
        ops.push(op(&open[0], HOUR, true));
        ops.push(op(&open[1], DAY, true));
    }
    let c = store.windows(&ops, now).await?;
    let at = |i: usize| saturate(c.get(i).copied().unwrap_or(0));
    let asn = |offset: usize| asn_at.map_or(0, |first| at(first + offset));
    Ok(Velocity {
        account_attempts_1h: at(0),
        account_attempts_24h: at(1),
        address_attempts_1h: at(2),
        subnet_attempts_1h: at(3),
        address_accounts_1h: at(4),
        account_failures_1h: at(5),
        address_failures_1h: at(6),
        asn_attempts_1h: asn(0),
        asn_accounts_1h: asn(1),
    })
}

/// The /24 (IPv4) or /48 (IPv6) network around `ip`, as text.
pub fn subnet(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 80) - 1);
            format!("{}/48", std::net::Ipv6Addr::from(bits))
        }
    }
}

/// Record a failed verification (the `*_failures_1h` risk signals), in the
/// open lane and, for a known device, in its lane too.
pub async fn record_failure(
    store: &dyn Ephemeral,
    account: &str,
    lane: Lane,
    address: &str,
    now: SystemTime,
) -> Result<(), StoreError> {
    let keys = [
        keys::count("fail", account, "1h"),
        keys::count("fail-addr", address, "1h"),
        account_key("fail", Lane::KnownDevice, account, "1h"),
    ];
    let all = [
        op(&keys[0], HOUR, true),
        op(&keys[1], HOUR, true),
        op(&keys[2], HOUR, true),
    ];
    let ops = if lane == Lane::KnownDevice {
        &all[..]
    } else {
        &all[..2]
    };
    store.windows(ops, now).await?;
    Ok(())
}

/// Count a code attempt for `account` (right or wrong) within `window` and
/// return the count of its `lane` including this one (a known device's attempt
/// counts in the open lane too). Counted before the code is checked, so that
/// parallel guesses cannot all pass a check made before any is recorded.
pub async fn code_attempt(
    store: &dyn Ephemeral,
    account: &str,
    lane: Lane,
    window: Duration,
    now: SystemTime,
) -> Result<u64, StoreError> {
    let open = keys::count("code-attempt", account, "limit");
    let known = account_key("code-attempt", Lane::KnownDevice, account, "limit");
    match lane {
        Lane::Open => Ok(store.windows(&[op(&open, window, true)], now).await?[0]),
        Lane::KnownDevice => {
            let ops = [op(&known, window, true), op(&open, window, true)];
            Ok(store.windows(&ops, now).await?[0])
        }
    }
}

/// Codes sent to `account` (SMS and e-mail) as its `lane` counts them: (last
/// hour, last day), not counting one now. Read before a send and counted
/// only once one goes ([`code_sent`]), so that refused requests never extend
/// a refusal; concurrent sends may pass one read together, so the limits can
/// be passed by the requests in flight at once, each still bound by its
/// flow's own sends.
pub async fn codes_sent(
    store: &dyn Ephemeral,
    account: &str,
    lane: Lane,
    now: SystemTime,
) -> Result<(u64, u64), StoreError> {
    let (hour, day) = (
        account_key("sms", lane, account, "1h"),
        account_key("sms", lane, account, "24h"),
    );
    let counts = store
        .windows(&[op(&hour, HOUR, false), op(&day, DAY, false)], now)
        .await?;
    Ok((counts[0], counts[1]))
}

/// Count a code sent to `account`: in the open lane and, from a known
/// device, in its lane too (strangers filling the open lane do not stop the
/// owner's device).
pub async fn code_sent(
    store: &dyn Ephemeral,
    account: &str,
    lane: Lane,
    now: SystemTime,
) -> Result<(), StoreError> {
    let keys = [
        keys::count("sms", account, "1h"),
        keys::count("sms", account, "24h"),
        account_key("sms", Lane::KnownDevice, account, "1h"),
        account_key("sms", Lane::KnownDevice, account, "24h"),
    ];
    let all = [
        op(&keys[0], HOUR, true),
        op(&keys[1], DAY, true),
        op(&keys[2], HOUR, true),
        op(&keys[3], DAY, true),
    ];
    let ops = if lane == Lane::KnownDevice {
        &all[..]
    } else {
        &all[..2]
    };
    store.windows(ops, now).await?;
    Ok(())
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
    attempts(
        store,
        ["login", "login-addr"],
        account,
        address,
        window,
        now,
    )
    .await
}

/// [`login_attempt`] for administrators' sign-in: counters of their own
/// (no user name can touch them); the first is per administrator *and*
/// address, so a stranger elsewhere cannot lock an administrator out.
pub async fn admin_login_attempt(
    store: &dyn Ephemeral,
    admin_at_address: &str,
    address: &str,
    window: Duration,
    now: SystemTime,
) -> Result<(u64, u64), StoreError> {
    let kinds = ["admin-login", "admin-login-addr"];
    attempts(store, kinds, admin_at_address, address, window, now).await
}

async fn attempts(
    store: &dyn Ephemeral,
    [by_subject, by_address]: [&str; 2],
    subject: &str,
    address: &str,
    window: Duration,
    now: SystemTime,
) -> Result<(u64, u64), StoreError> {
    let (a, b) = (
        keys::count(by_subject, subject, "limit"),
        keys::count(by_address, address, "limit"),
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
    Ok(store.windows(&[op(&key, window, record)], now).await?[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ephemeral::MemoryStore;

    #[test]
    fn subnets() {
        assert_eq!(subnet("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(
            subnet("2001:db8:aa:bb::1".parse().unwrap()),
            "2001:db8:aa::/48"
        );
    }

    fn origin(lane: Lane, address: &str) -> Origin<'_> {
        Origin {
            account: "ann",
            lane,
            address,
            subnet: "198.18.0.0/24",
            asn: None,
        }
    }

    #[tokio::test]
    async fn strangers_fill_the_open_lane_and_not_the_owners() {
        let store = MemoryStore::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_hours(500_000);
        let window = Duration::from_mins(15);
        // Strangers: 30 starts, 30 codes tried and failed, from 30 addresses.
        for i in 0..30u64 {
            let at = now + Duration::from_secs(i);
            let address = format!("198.18.0.{i}");
            gather(&store, &origin(Lane::Open, &address), true, at)
                .await
                .unwrap();
            let tried = code_attempt(&store, "ann", Lane::Open, window, at)
                .await
                .unwrap();
            assert_eq!(tried, i + 1);
            record_failure(&store, "ann", Lane::Open, &address, at)
                .await
                .unwrap();
        }
        let at = now + Duration::from_mins(1);
        // The owner's device reads its own lane: her first start, no failure.
        let owner = gather(&store, &origin(Lane::KnownDevice, "192.0.2.10"), true, at)
            .await
            .unwrap();
        assert_eq!(
            (
                owner.account_attempts_1h,
                owner.account_attempts_24h,
                owner.account_failures_1h
            ),
            (1, 1, 0)
        );
        // Without an ASN nothing is read from the open lane's slots either.
        assert_eq!((owner.asn_attempts_1h, owner.asn_accounts_1h), (0, 0));
        let tried = code_attempt(&store, "ann", Lane::KnownDevice, window, at)
            .await
            .unwrap();
        assert_eq!(tried, 1, "the strangers' codes are not the owner's");
        record_failure(&store, "ann", Lane::KnownDevice, "192.0.2.10", at)
            .await
            .unwrap();
        // The open lane heard of all of it: 31 starts, 31 codes, 31 failures.
        let stranger = gather(&store, &origin(Lane::Open, "198.18.1.1"), false, at)
            .await
            .unwrap();
        assert_eq!(
            (stranger.account_attempts_1h, stranger.account_failures_1h),
            (31, 31)
        );
        let tried = code_attempt(&store, "ann", Lane::Open, window, at)
            .await
            .unwrap();
        assert_eq!(tried, 32, "31 before, this one");
        let owner = gather(&store, &origin(Lane::KnownDevice, "192.0.2.10"), false, at)
            .await
            .unwrap();
        assert_eq!(
            (owner.account_attempts_1h, owner.account_failures_1h),
            (1, 1)
        );
    }

    #[tokio::test]
    async fn spray_counts_distinct_accounts_per_address_and_asn() {
        let store = MemoryStore::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_hours(500_000);
        let mut last = Velocity::default();
        for (i, account) in ["ann", "bob", "ann", "cid"].iter().enumerate() {
            let origin = Origin {
                account,
                lane: Lane::Open,
                address: "192.0.2.7",
                subnet: "192.0.2.0/24",
                asn: Some(64_500),
            };
            last = gather(&store, &origin, true, now + Duration::from_secs(i as u64))
                .await
                .unwrap();
        }
        assert_eq!(last.address_attempts_1h, 4);
        assert_eq!(last.address_accounts_1h, 3);
        assert_eq!(last.asn_accounts_1h, 3);
        assert_eq!(last.account_attempts_1h, 1, "cid's first");
        let other = Origin {
            account: "dan",
            lane: Lane::Open,
            address: "192.0.2.8",
            subnet: "192.0.2.0/24",
            asn: None,
        };
        let v = gather(&store, &other, true, now + Duration::from_secs(9))
            .await
            .unwrap();
        assert_eq!(
            (
                v.subnet_attempts_1h,
                v.address_attempts_1h,
                v.asn_attempts_1h
            ),
            (5, 1, 0)
        );
    }
}
