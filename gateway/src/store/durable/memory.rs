//! In-process implementation of the durable traits, for replays of recorded
//! traffic (`train`, `evaluate`; see `crate::replay`).
//!
//! Nothing of a replay outlives it, and with `SQLite` every replayed attempt
//! paid a few dozen cross-thread round trips to sqlx's worker; here every
//! operation is a few map operations under a std `Mutex` (no critical section
//! awaits). It is never for serving: a restart would lose every account,
//! factor and audit record, so it is not reachable from configuration — only
//! [`crate::app::BuildOptions::durable`] puts it in place.
//!
//! The semantics are exactly those of [`super::SqliteStore`] (its queries and
//! the migrations are the reference), down to the edge cases: the place groups
//! key on `COALESCE(country || '/' || city, printf('%.1f,%.1f', lat, lon))`
//! (a port of `SQLite`'s `%.1f` formatting below), a NaN is stored as NULL,
//! a level repeated in the attempt's values counts its first value on record.
//! One difference: a place without an accuracy reads as accuracy 0, where
//! `SqliteStore::history` fails (`COALESCE(accuracy_km, 0)` is an INTEGER,
//! which sqlx refuses to decode as `f64`); live and replayed successes always
//! carry one with a place, unless it is NaN.
//! The history is kept as aggregates, maintained on every success, rather than
//! as events: per scope counts, per account the place groups and the latest
//! event. The tests replay the same pseudo-random events and operations into
//! both stores and compare every answer.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    AuditRecord, AuditStore, ChainFn, Durable, DurableError, FactorRecord, FactorStore,
    HistoryRecord, HistoryStore, LevelCount, Place, SuccessEvent, UserRecord, UserStore,
};

mod admins;
mod api_keys;
mod labels;
mod locks;
mod outbox;
mod policies;
#[cfg(test)]
mod tests;

/// Distinct places returned, as `history.rs`'s `MAX_PLACES`.
const MAX_PLACES: usize = 10;

/// The levels whose values are listed as `known`.
const KNOWN_LEVELS: [&str; 3] = ["country", "asn", "browser"];

/// The durable traits over process memory. See the module documentation.
#[derive(Debug, Default)]
pub struct MemoryDurable {
    users: Mutex<HashMap<String, Account>>,
    factors: Mutex<Factors>,
    audit: Mutex<BTreeMap<i64, AuditRecord>>,
    history: Mutex<History>,
    /// Taken after `audit` when both are (an audit append queues its alerts).
    outbox: Mutex<outbox::Outbox>,
    /// `account_locks`: account → its lock.
    locks: Mutex<HashMap<String, super::AccountLock>>,
    /// `admins` by name.
    admins: Mutex<HashMap<String, super::AdminRecord>>,
    /// `api_keys`.
    api_keys: Mutex<api_keys::ApiKeys>,
    /// `decision_labels` by seq.
    labels: Mutex<HashMap<i64, super::LabelRecord>>,
    /// `policy_versions`, `policy_activations` and `settings`.
    policies: Mutex<policies::Policies>,
}

#[derive(Debug)]
struct Account {
    record: UserRecord,
    /// Earlier hashes, oldest first (`password_history` by id).
    earlier: VecDeque<String>,
}

#[derive(Debug, Default)]
struct Factors {
    /// Each account's factors, ordered by (`created_at`, id).
    by_user: HashMap<String, Vec<FactorRecord>>,
    /// Factor id → its account (ids are unique across accounts).
    owner: HashMap<String, String>,
}

impl Factors {
    fn by_id(&mut self, id: &str) -> Option<&mut FactorRecord> {
        let owner = self.owner.get(id)?;
        self.by_user.get_mut(owner)?.iter_mut().find(|f| f.id == id)
    }
}

#[derive(Debug, Default)]
struct History {
    /// `account_events.id` of the next event.
    next_id: u64,
    /// `feature_counts` by scope: `""` is every account, otherwise the account.
    scopes: HashMap<String, Scope>,
    /// Per account: what `history()` reads of `account_events` and `known_devices`.
    trails: HashMap<String, Trail>,
}

/// One scope's `feature_counts`.
#[derive(Debug, Default)]
struct Scope {
    /// level → value → count; a handful of levels, so a list.
    counts: Vec<(&'static str, HashMap<String, u64>)>,
    /// The (level, value) rows of the [`KNOWN_LEVELS`], in `ORDER BY level, value`
    /// order (both compare bytewise, as `SQLite`'s BINARY collation).
    known: BTreeSet<(&'static str, String)>,
}

impl Scope {
    fn count(&self, level: &str, value: &str) -> Option<u64> {
        self.counts
            .iter()
            .find(|(l, _)| *l == level)
            .and_then(|(_, values)| values.get(value).copied())
    }

    fn bump(&mut self, level: &'static str, value: &str) {
        let i = self
            .counts
            .iter()
            .position(|(l, _)| *l == level)
            .unwrap_or_else(|| {
                self.counts.push((level, HashMap::new()));
                self.counts.len() - 1
            });
        let values = &mut self.counts[i].1;
        if let Some(n) = values.get_mut(value) {
            *n += 1;
        } else {
            values.insert(value.to_owned(), 1);
            if KNOWN_LEVELS.contains(&level) {
                self.known.insert((level, value.to_owned()));
            }
        }
    }
}

/// An account's events, as far as `history()` reads them.
#[derive(Debug, Default)]
struct Trail {
    /// The latest event by (at, id): its time and place.
    last: Option<(i64, Option<Place>)>,
    /// Place group key → id of the group's latest event.
    groups: HashMap<String, u64>,
    /// The latest event of each group, by id.
    places: BTreeMap<u64, Place>,
    /// Device ids bound to the account.
    devices: HashSet<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every mutation is checked before it starts changing state, so a panic
    // cannot leave a half-applied operation behind: a poisoned lock is usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn count_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `SQLite` stores a NaN bound as a REAL as NULL.
pub(super) fn real(x: Option<f64>) -> Option<f64> {
    x.filter(|x| !x.is_nan())
}

/// The "usual place" group of an event, as `history.rs` keys it:
/// `COALESCE(country || '/' || city, printf('%.1f,%.1f', lat, lon))` over
/// events with both coordinates (a NaN is none). `None` without a place.
pub(super) fn place_group(e: &SuccessEvent) -> Option<String> {
    let (Some(lat), Some(lon)) = (real(e.lat), real(e.lon)) else {
        return None;
    };
    Some(if let (Some(country), Some(city)) = (&e.country, &e.city) {
        format!("{country}/{city}")
    } else {
        let mut key = String::new();
        printf_1f(lat, &mut key);
        key.push(',');
        printf_1f(lon, &mut key);
        key
    })
}

impl MemoryDurable {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl UserStore for MemoryDurable {
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, DurableError> {
        Ok(lock(&self.users).get(username).map(|a| a.record.clone()))
    }

    async fn create_user(&self, user: &UserRecord) -> Result<bool, DurableError> {
        let mut users = lock(&self.users);
        if users.contains_key(&user.username) {
            return Ok(false);
        }
        users.insert(
            user.username.clone(),
            Account {
                record: user.clone(),
                earlier: VecDeque::new(),
            },
        );
        Ok(true)
    }

    async fn password_hashes(
        &self,
        username: &str,
        depth: usize,
    ) -> Result<Vec<String>, DurableError> {
        let users = lock(&self.users);
        let Some(account) = users.get(username) else {
            return Ok(Vec::new());
        };
        Ok(std::iter::once(&account.record.password_hash)
            .chain(account.earlier.iter().rev().take(depth))
            .cloned()
            .collect())
    }

    async fn change_password(
        &self,
        username: &str,
        new_hash: &str,
        now: i64,
        depth: usize,
    ) -> Result<(), DurableError> {
        let mut users = lock(&self.users);
        let account = users
            .get_mut(username)
            .ok_or_else(|| DurableError(format!("no such user {username:?}")))?;
        let old = std::mem::replace(&mut account.record.password_hash, new_hash.to_owned());
        account.record.password_changed_at = now;
        account.earlier.push_back(old);
        while account.earlier.len() > depth {
            account.earlier.pop_front();
        }
        Ok(())
    }
}

#[async_trait]
impl FactorStore for MemoryDurable {
    async fn factors(&self, username: &str) -> Result<Vec<FactorRecord>, DurableError> {
        Ok(lock(&self.factors)
            .by_user
            .get(username)
            .cloned()
            .unwrap_or_default())
    }

    async fn add_factor(&self, factor: &FactorRecord) -> Result<(), DurableError> {
        let mut factors = lock(&self.factors);
        if factors.owner.contains_key(&factor.id) {
            return Err(DurableError(
                "UNIQUE constraint failed: factors.id".to_owned(),
            ));
        }
        factors
            .owner
            .insert(factor.id.clone(), factor.username.clone());
        let list = factors.by_user.entry(factor.username.clone()).or_default();
        let at = list.partition_point(|f| {
            (f.created_at, f.id.as_str()) < (factor.created_at, factor.id.as_str())
        });
        list.insert(at, factor.clone());
        Ok(())
    }

    async fn delete_factor(&self, username: &str, id: &str) -> Result<bool, DurableError> {
        let mut factors = lock(&self.factors);
        if factors.owner.get(id).map(String::as_str) != Some(username) {
            return Ok(false);
        }
        factors.owner.remove(id);
        if let Some(list) = factors.by_user.get_mut(username) {
            list.retain(|f| f.id != id);
        }
        Ok(true)
    }

    async fn touch_factor(&self, id: &str, now: i64) -> Result<(), DurableError> {
        if let Some(f) = lock(&self.factors).by_id(id) {
            f.last_used_at = Some(now);
        }
        Ok(())
    }

    async fn update_factor_secret(
        &self,
        id: &str,
        expected: &[u8],
        new: &[u8],
    ) -> Result<bool, DurableError> {
        let mut factors = lock(&self.factors);
        match factors.by_id(id) {
            // `secret = ?` is never true of a NULL secret.
            Some(f) if f.secret.as_deref() == Some(expected) => {
                f.secret = Some(new.to_vec());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl AuditStore for MemoryDurable {
    async fn audit_head(&self) -> Result<Option<(i64, String)>, DurableError> {
        Ok(lock(&self.audit)
            .last_key_value()
            .map(|(seq, r)| (*seq, r.hash.clone())))
    }

    async fn audit_append(&self, records: &[AuditRecord]) -> Result<bool, DurableError> {
        if super::batch_start(records)?.is_none() {
            return Ok(true);
        }
        let mut log = lock(&self.audit);
        let head = log.last_key_value().map(|(seq, r)| (*seq, r.hash.clone()));
        if !super::continues(head, &records[0]) {
            return Ok(false);
        }
        let mut outbox = lock(&self.outbox);
        outbox.check_alerts(records)?;
        outbox.insert_alerts(records);
        for r in records {
            // As read back from a table: the alert is in the outbox.
            let r = AuditRecord {
                alert: None,
                ..r.clone()
            };
            log.insert(r.seq, r);
        }
        Ok(true)
    }

    async fn audit_append_exclusive(
        &self,
        chain: Arc<ChainFn<'static>>,
    ) -> Result<Option<(i64, String)>, DurableError> {
        let mut log = lock(&self.audit);
        let head = log.last_key_value().map(|(seq, r)| (*seq, r.hash.clone()));
        let (records, head) = super::chain_on(chain.as_ref(), head)?;
        let mut outbox = lock(&self.outbox);
        outbox.check_alerts(&records)?;
        outbox.insert_alerts(&records);
        for r in records {
            log.insert(r.seq, AuditRecord { alert: None, ..r });
        }
        Ok(head)
    }

    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, DurableError> {
        // `LIMIT` with a negative value has no limit.
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(lock(&self.audit)
            .range(from..)
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn audit_recent(
        &self,
        kind: Option<&str>,
        before: Option<i64>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, DurableError> {
        // `LIMIT` with a negative value has no limit.
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let below = before.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(lock(&self.audit)
            .range((Bound::Unbounded, below))
            .rev()
            .map(|(_, r)| r)
            .filter(|r| kind.is_none_or(|kind| r.kind == kind))
            // Text compares bytewise, as `SQLite`'s BINARY.
            .filter(|r| since.is_none_or(|since| r.at.as_str() >= since))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, DurableError> {
        Ok(lock(&self.audit).get(&seq).cloned())
    }
}

#[async_trait]
impl HistoryStore for MemoryDurable {
    async fn record_success(&self, e: &SuccessEvent) -> Result<(), DurableError> {
        let features = e.features();
        let (lat, lon) = (real(e.lat), real(e.lon));
        let place = match (lat, lon) {
            (Some(lat), Some(lon)) => Some((lat, lon, real(e.accuracy_km).unwrap_or(0.0))),
            _ => None,
        };
        let group = place_group(e);

        let mut history = lock(&self.history);
        let id = history.next_id;
        history.next_id += 1;
        for scope in [e.username.as_str(), ""] {
            let counts = match history.scopes.get_mut(scope) {
                Some(counts) => counts,
                None => history.scopes.entry(scope.to_owned()).or_default(),
            };
            counts.bump("*", "*");
            for (level, value) in &features {
                if let Some(value) = value {
                    counts.bump(level, value);
                }
            }
        }
        let trail = match history.trails.get_mut(&e.username) {
            Some(trail) => trail,
            None => history.trails.entry(e.username.clone()).or_default(),
        };
        // Ids only grow: this event is the latest unless an earlier one is later.
        if trail.last.is_none_or(|(at, _)| e.at >= at) {
            trail.last = Some((e.at, place));
        }
        if let (Some(place), Some(group)) = (place, group) {
            if let Some(before) = trail.groups.insert(group, id) {
                trail.places.remove(&before);
            }
            trail.places.insert(id, place);
        }
        if let Some(device) = &e.device_id
            && !trail.devices.contains(device)
        {
            trail.devices.insert(device.clone());
        }
        Ok(())
    }

    async fn history(
        &self,
        username: &str,
        current: &[(&'static str, Option<String>)],
        device_id: Option<&str>,
    ) -> Result<HistoryRecord, DurableError> {
        let history = lock(&self.history);
        let account = history.scopes.get(username);
        // With the empty name the account's scope is the global one, and the
        // global count (a row of another scope than the account's) is none.
        let global = if username.is_empty() {
            None
        } else {
            history.scopes.get("")
        };
        let counts = level_counts(account, global, current);
        let trail = history.trails.get(username);
        Ok(HistoryRecord {
            events: counts.first().map_or(0, |c| c.account),
            known: account.map_or_else(Vec::new, |s| {
                s.known
                    .iter()
                    .map(|(level, value)| ((*level).to_owned(), value.clone()))
                    .collect()
            }),
            places: trail.map_or_else(Vec::new, |t| {
                t.places.values().rev().take(MAX_PLACES).copied().collect()
            }),
            last: trail.and_then(|t| t.last),
            counts,
            device_known: match (trail, device_id) {
                (Some(t), Some(device)) => t.devices.contains(device),
                _ => false,
            },
        })
    }
}

/// `history.rs`'s `level_counts`: the totals as level `*`, then for each
/// current level the counts of the first of its current values on record.
fn level_counts(
    account: Option<&Scope>,
    global: Option<&Scope>,
    current: &[(&'static str, Option<String>)],
) -> Vec<LevelCount> {
    // The rows `SQLite` returns, in order: the totals, then each current value.
    let wanted = || {
        std::iter::once(("*", "*")).chain(
            current
                .iter()
                .filter_map(|(l, v)| v.as_deref().map(|v| (*l, v))),
        )
    };
    let count = |scope: Option<&Scope>, level: &str| {
        scope
            .and_then(|s| {
                wanted()
                    .filter(|(l, _)| *l == level)
                    .find_map(|(l, v)| s.count(l, v))
            })
            .map_or(0, count_u32)
    };
    std::iter::once("*")
        .chain(current.iter().map(|(l, _)| *l))
        .map(|level| {
            let present = level == "*" || current.iter().any(|(l, v)| *l == level && v.is_some());
            LevelCount {
                level: level.to_owned(),
                present,
                account: if present { count(account, level) } else { 0 },
                global: if present { count(global, level) } else { 0 },
            }
        })
        .collect()
}

#[async_trait]
impl Durable for MemoryDurable {
    async fn ping(&self) -> Result<(), DurableError> {
        Ok(())
    }
}

/// Append `SQLite`'s `printf('%.1f', x)` to `out`: a port of `sqlite3FpDecode`
/// and the `etFLOAT` branch of `sqlite3_str_vappendf` (`SQLite` 3.51). It rounds
/// half away from zero on its decimal expansion (`0.25` → `0.3`, where Rust's
/// `{:.1}` gives `0.2`), and prints `-0.0` as `0.0`, infinities as `Inf`/`-Inf`.
fn printf_1f(x: f64, out: &mut String) {
    let d = FpDecode::new(x, -1, 16);
    match d.special {
        Special::NaN => return out.push_str("NaN"),
        Special::Inf => return out.push_str(if d.negative { "-Inf" } else { "Inf" }),
        Special::No => {}
    }
    if d.negative {
        out.push('-');
    }
    let digits = d.digits();
    let mut next = digits
        .iter()
        .map(|&b| char::from(b))
        .chain(std::iter::repeat('0'));
    let mut e2 = d.dp - 1;
    if e2 < 0 {
        out.push('0');
    } else {
        while e2 >= 0 {
            out.push(next.next().unwrap_or('0'));
            e2 -= 1;
        }
    }
    out.push('.');
    let mut precision = 1;
    e2 += 1;
    while e2 < 0 && precision > 0 {
        out.push('0');
        precision -= 1;
        e2 += 1;
    }
    while precision > 0 {
        out.push(next.next().unwrap_or('0'));
        precision -= 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    No,
    Inf,
    NaN,
}

/// `SQLite`'s `FpDecode`: significant digits `buf[start..start + n]`, the
/// decimal point after `dp` of them.
#[derive(Debug)]
struct FpDecode {
    negative: bool,
    special: Special,
    buf: [u8; 24],
    start: usize,
    n: usize,
    dp: i32,
}

impl FpDecode {
    fn digits(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.n]
    }

    /// `sqlite3FpDecode(p, r, round, max_round)`, statement for statement.
    #[allow(
        clippy::excessive_precision,
        clippy::unreadable_literal,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::float_cmp,
        clippy::many_single_char_names,
        clippy::too_many_lines,
        reason = "a literal port of SQLite's C: its constants and truncating casts"
    )]
    fn new(r: f64, round: i32, max_round: i32) -> Self {
        let mut p = FpDecode {
            negative: false,
            special: Special::No,
            buf: [0; 24],
            start: 0,
            n: 0,
            dp: 0,
        };
        let mut r = r;
        if r < 0.0 {
            p.negative = true;
            r = -r;
        } else if r == 0.0 {
            p.buf[0] = b'0';
            p.n = 1;
            p.dp = 1;
            return p;
        }
        let bits = r.to_bits();
        if (bits >> 52) & 0x7ff == 0x7ff {
            p.special = if bits == 0x7ff0_0000_0000_0000 {
                Special::Inf
            } else {
                Special::NaN
            };
            return p;
        }

        // Scale into [1e17, 1e19) in double-double arithmetic.
        let mut rr = [r, 0.0];
        let mut exp: i32 = 0;
        if rr[0] > 9.223372036854774784e+18 {
            while rr[0] > 9.223372036854774784e+118 {
                exp += 100;
                dekker_mul2(&mut rr, 1.0e-100, -1.99918998026028836196e-117);
            }
            while rr[0] > 9.223372036854774784e+28 {
                exp += 10;
                dekker_mul2(&mut rr, 1.0e-10, -3.6432197315497741579e-27);
            }
            while rr[0] > 9.223372036854774784e+18 {
                exp += 1;
                dekker_mul2(&mut rr, 1.0e-01, -5.5511151231257827021e-18);
            }
        } else {
            while rr[0] < 9.223372036854774784e-83 {
                exp -= 100;
                dekker_mul2(&mut rr, 1.0e+100, -1.5902891109759918046e+83);
            }
            while rr[0] < 9.223372036854774784e+07 {
                exp -= 10;
                dekker_mul2(&mut rr, 1.0e+10, 0.0);
            }
            while rr[0] < 9.22337203685477478e+17 {
                exp -= 1;
                dekker_mul2(&mut rr, 1.0e+01, 0.0);
            }
        }
        let mut v: u64 = if rr[1] < 0.0 {
            (rr[0] as u64) - ((-rr[1]) as u64)
        } else {
            (rr[0] as u64) + (rr[1] as u64)
        };

        // The significant digits, right-aligned in `buf`; `i` is the free slot
        // before them.
        let mut i = p.buf.len() - 1;
        while v != 0 {
            p.buf[i] = b'0' + (v % 10) as u8;
            i -= 1;
            v /= 10;
        }
        p.n = p.buf.len() - 1 - i;
        p.dp = p.n as i32 + exp;
        let mut round = round;
        if round <= 0 {
            round = p.dp - round;
            if round == 0 && p.buf[i + 1] >= b'5' {
                round = 1;
                p.buf[i] = b'0';
                i -= 1;
                p.n += 1;
                p.dp += 1;
            }
        }
        if round > 0 && ((round as usize) < p.n || p.n > max_round as usize) {
            let z = i + 1;
            let round = round.min(max_round) as usize;
            p.n = round;
            if p.buf[z + round] >= b'5' {
                let mut j = round - 1;
                loop {
                    p.buf[z + j] += 1;
                    if p.buf[z + j] <= b'9' {
                        break;
                    }
                    p.buf[z + j] = b'0';
                    if j == 0 {
                        p.buf[i] = b'1';
                        i -= 1;
                        p.n += 1;
                        p.dp += 1;
                        break;
                    }
                    j -= 1;
                }
            }
        }
        p.start = i + 1;
        while p.buf[p.start + p.n - 1] == b'0' {
            p.n -= 1;
        }
        p
    }
}

/// `SQLite`'s `dekkerMul2`: `(x[0], x[1]) *= (y, yy)` in double-double.
#[allow(clippy::many_single_char_names, reason = "SQLite's names")]
fn dekker_mul2(x: &mut [f64; 2], y: f64, yy: f64) {
    const HIGH: u64 = 0xffff_ffff_fc00_0000;
    let hx = f64::from_bits(x[0].to_bits() & HIGH);
    let tx = x[0] - hx;
    let hy = f64::from_bits(y.to_bits() & HIGH);
    let ty = y - hy;
    let p = hx * hy;
    let q = hx * ty + tx * hy;
    let c = p + q;
    let mut cc = p - c + q + tx * ty;
    cc += x[0] * yy + x[1] * y; // IEEE addition commutes: as SQLite's order
    x[0] = c + cc;
    x[1] = c - x[0];
    x[1] += cc;
}
