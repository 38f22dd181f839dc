//! What a reset start reads of one account, kept in memory between starts
//! and checked against the database at every start.
//!
//! A start's reads were about 25 statements in one read transaction (user,
//! factors, lock, and 20 history statements): the largest part of its CPU
//! (`bench/RESULTS.md`, fourth look). Most of them read the same rows again
//! and again: an account's rows change when it succeeds, enrols, is locked or
//! is edited, not when someone starts a reset for it. So the answers are kept
//! here, per account and for the global feature counts, each with the
//! **generation** it was read at.
//!
//! A generation number per account (and one, under the name `''`, for the
//! global counts) lives in the database, in `account_generations`, and the
//! triggers of migration `0009` bump it whenever any row a start reads for
//! that account is inserted, updated or deleted — by this gateway, by
//! another process on the same file (the CLI, another gateway), whatever the
//! code path. A start reads the two generations in its read transaction; a
//! copy read at the same generation is what the statements would answer, so
//! it is used, and anything else is read again in that transaction and kept
//! at the generation read with it (one snapshot). A start that finds its
//! copies current runs one statement instead of about 25.
//!
//! Bounded: at most [`SHARDS`] × [`PER_SHARD`] accounts (the least recently
//! used go first) and [`GLOBAL_VALUES`] global counts (all dropped when
//! full). Unknown names are kept like known ones, so that a start costs the
//! same for both: the only thing timing can tell is whether the same name
//! was asked for recently, which the asker then knows anyway.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hashlink::LruCache;
use rusqlite::{Connection, OptionalExtension as _};

use super::reads;
use crate::store::durable::history::{LastRow, assemble, counts_from_rows};
use crate::store::durable::{
    AccountLock, AttemptQuery, AttemptReads, DurableError, FactorRecord, Place, UserRecord,
};

/// Locks the accounts are spread over.
const SHARDS: usize = 16;
/// Accounts kept per shard: 16,384 in all. An entry is some hundred bytes
/// for an unknown name and a few KiB for a long history (the user row, the
/// factors, up to ten places, a count per value the account succeeded
/// with).
const PER_SHARD: usize = 1024;
/// Global counts (level, value) kept; past that they are all dropped.
const GLOBAL_VALUES: usize = 16_384;

/// The generations of the account and of the global counts. A name never
/// written since the migration has no row: generation 0. (Two lookups, not
/// `username IN (?1, '')`: an `IN` list is an ephemeral table, whose opening
/// and closing took a process-wide mutex of `SQLite`'s page cache.)
const GENERATIONS: &str = "SELECT
     (SELECT generation FROM account_generations WHERE username = ?1),
     (SELECT generation FROM account_generations WHERE username = '')";

/// Every count in the account's scope (what `KNOWN` and the per-level
/// `COUNT`s read of it), in primary-key order.
const ACCOUNT_COUNTS: &str =
    "SELECT level, value, count FROM feature_counts WHERE scope = ?1 ORDER BY level, value";

const DEVICES: &str = "SELECT device_id FROM known_devices WHERE username = ?1";

/// The levels whose values are the account's "known" ones.
const KNOWN_LEVELS: [&str; 3] = ["asn", "browser", "country"];

/// One account's reads at one generation.
#[derive(Debug)]
struct Account {
    generation: i64,
    /// `None` for an unknown name.
    user: Option<UserRecord>,
    factors: Vec<FactorRecord>,
    lock: Option<AccountLock>,
    places: Vec<Place>,
    last: Option<LastRow>,
    /// (level, value, count) in the account's scope, by level then value.
    counts: Vec<(String, String, i64)>,
    devices: Vec<String>,
}

impl Account {
    fn read(tx: &Connection, name: &str, generation: i64) -> Result<Self, DurableError> {
        let counts = tx
            .prepare_cached(ACCOUNT_COUNTS)?
            .query_map([name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let devices = tx
            .prepare_cached(DEVICES)?
            .query_map([name], |row| row.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            generation,
            user: reads::user(tx, name)?,
            factors: reads::factors(tx, name)?,
            lock: reads::lock(tx, name)?,
            places: reads::places(tx, name)?,
            last: reads::last(tx, name)?,
            counts,
            devices,
        })
    }

    fn count(&self, level: &str, value: &str) -> Option<i64> {
        self.counts
            .iter()
            .find(|(l, v, _)| l == level && v == value)
            .map(|(_, _, c)| *c)
    }

    fn known(&self) -> Vec<(String, String)> {
        self.counts
            .iter()
            .filter(|(l, _, _)| KNOWN_LEVELS.contains(&l.as_str()))
            .map(|(l, v, _)| (l.clone(), v.clone()))
            .collect()
    }
}

/// Global counts looked up at one generation: `None` for a value never
/// counted.
#[derive(Debug, Default)]
struct Global {
    generation: i64,
    counts: HashMap<&'static str, HashMap<String, Option<i64>>>,
    len: usize,
}

/// How many starts found their account's copy current, and how many read
/// it again (what the tests look at; operators have the metric,
/// `resetgate_account_cache_total`).
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

/// Some of the accounts, by name, least recently used first.
type Shard = Mutex<LruCache<String, Arc<Account>>>;

/// The copies (see the module's documentation).
#[derive(Debug)]
pub(super) struct ReadModel {
    accounts: Box<[Shard]>,
    hasher: RandomState,
    global: Mutex<Global>,
    pub(super) tally: Tally,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for ReadModel {
    fn default() -> Self {
        Self::with_capacity(PER_SHARD)
    }
}

impl ReadModel {
    /// Copies of at most `per_shard` accounts per shard.
    fn with_capacity(per_shard: usize) -> Self {
        Self {
            accounts: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: RandomState::new(),
            global: Mutex::new(Global::default()),
            tally: Tally::default(),
        }
    }

    /// The reads of one attempt, in the read transaction `tx`.
    pub(super) fn attempt(
        &self,
        tx: &Connection,
        request: &AttemptQuery,
    ) -> Result<AttemptReads, DurableError> {
        let name = request.username.as_str();
        let (mine, global) = generations(tx, name)?;
        let account = self.account(tx, name, mine)?;
        let levels = std::iter::once(("*", "*")).chain(
            request
                .current
                .iter()
                .filter_map(|(l, v)| v.as_deref().map(|v| (*l, v))),
        );
        let mut rows = Vec::with_capacity(2 * (request.current.len() + 1));
        for (level, value) in levels.clone() {
            if let Some(n) = account.count(level, value) {
                rows.push((name.to_owned(), level.to_owned(), n));
            }
        }
        for (level, n) in self.global_counts(tx, global, levels)? {
            rows.push((String::new(), level.to_owned(), n));
        }
        let counts = counts_from_rows(&rows, name, &request.current);
        let device_known = request
            .device_id
            .as_deref()
            .is_some_and(|id| account.devices.iter().any(|d| d == id));
        Ok(AttemptReads {
            user: if request.with_user {
                account.user.clone()
            } else {
                None
            },
            factors: account.factors.clone(),
            history: assemble(
                account.known(),
                account.places.clone(),
                account.last,
                device_known,
                counts,
            ),
            lock: account.lock.clone(),
        })
    }

    /// The account's copy at `generation`: the one kept, or read now.
    fn account(
        &self,
        tx: &Connection,
        name: &str,
        generation: i64,
    ) -> Result<Arc<Account>, DurableError> {
        let shard = &self.accounts[self.shard(name)];
        if let Some(kept) = locked(shard).get(name)
            && kept.generation == generation
        {
            self.tally.hits.fetch_add(1, Ordering::Relaxed);
            crate::metrics::account_cache(true);
            return Ok(Arc::clone(kept));
        }
        self.tally.misses.fetch_add(1, Ordering::Relaxed);
        crate::metrics::account_cache(false);
        let fresh = Arc::new(Account::read(tx, name, generation)?);
        let mut shard = locked(shard);
        // Another start may have kept a later snapshot meanwhile.
        if shard
            .peek(name)
            .is_none_or(|kept| kept.generation <= generation)
        {
            shard.insert(name.to_owned(), Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    fn shard(&self, name: &str) -> usize {
        // The remainder is below SHARDS, so it fits.
        usize::try_from(self.hasher.hash_one(name) % SHARDS as u64).unwrap_or(0)
    }

    /// The global count of each (level, value) of `wanted` that has one, in
    /// `wanted`'s order, at `generation`: kept ones, and the others looked up
    /// now.
    fn global_counts<'a>(
        &self,
        tx: &Connection,
        generation: i64,
        wanted: impl Iterator<Item = (&'static str, &'a str)>,
    ) -> Result<Vec<(&'static str, i64)>, DurableError> {
        // (level, value, the count if known yet: `Some(None)` for none).
        let mut answers: Vec<(&'static str, &str, Option<Option<i64>>)> = {
            let mut global = locked(&self.global);
            // Generations only grow: a later one empties the copies, and a
            // transaction that began before it uses none of them.
            if generation > global.generation {
                *global = Global {
                    generation,
                    ..Global::default()
                };
            }
            let current = global.generation == generation;
            wanted
                .map(|(level, value)| {
                    let kept = global
                        .counts
                        .get(level)
                        .and_then(|values| values.get(value))
                        .copied()
                        .filter(|_| current);
                    (level, value, kept)
                })
                .collect()
        };
        if answers.iter().any(|(_, _, kept)| kept.is_none()) {
            let mut count = tx.prepare_cached(reads::COUNT)?;
            let mut looked_up = Vec::new();
            for (level, value, answer) in &mut answers {
                if answer.is_none() {
                    let n: Option<i64> = count
                        .query_row(["", level, value], |row| row.get(0))
                        .optional()?;
                    *answer = Some(n);
                    looked_up.push((*level, *value, n));
                }
            }
            self.keep_global(generation, looked_up);
        }
        Ok(answers
            .into_iter()
            .filter_map(|(level, _, n)| n.flatten().map(|n| (level, n)))
            .collect())
    }

    /// Keep global counts looked up at `generation`, unless a later one has
    /// been seen since.
    fn keep_global(&self, generation: i64, looked_up: Vec<(&'static str, &str, Option<i64>)>) {
        let mut global = locked(&self.global);
        if global.generation != generation {
            return;
        }
        if global.len + looked_up.len() > GLOBAL_VALUES {
            global.counts.clear();
            global.len = 0;
        }
        for (level, value, n) in looked_up {
            if global
                .counts
                .entry(level)
                .or_default()
                .insert(value.to_owned(), n)
                .is_none()
            {
                global.len += 1;
            }
        }
    }
}

/// The generations of `name` and of the global counts.
fn generations(tx: &Connection, name: &str) -> Result<(i64, i64), DurableError> {
    let (mine, global): (Option<i64>, Option<i64>) = tx
        .prepare_cached(GENERATIONS)?
        .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let global = global.unwrap_or(0);
    // The name '' (no account's: names are never empty) shares the global
    // scope's counts, and so its generation.
    let mine = if name.is_empty() {
        global
    } else {
        mine.unwrap_or(0)
    };
    Ok((mine, global))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::locks::LockStore as _;
    use crate::store::durable::{
        Durable as _, FactorStore as _, HistoryStore as _, SqliteStore, SuccessEvent,
        UserStore as _,
    };

    fn request(name: &str) -> AttemptQuery {
        AttemptQuery {
            username: name.into(),
            current: vec![
                ("ip", Some("192.0.2.1".into())),
                ("asn", Some("64500".into())),
                ("country", Some("GB".into())),
                ("browser", Some("Firefox".into())),
            ],
            device_id: Some("dev-1".into()),
            with_user: true,
        }
    }

    /// What the statements answer, read one by one without the copies.
    async fn uncached(store: &SqliteStore, q: &AttemptQuery) -> AttemptReads {
        AttemptReads {
            user: store.user(&q.username).await.unwrap(),
            factors: store.factors(&q.username).await.unwrap(),
            history: store
                .history(&q.username, &q.current, q.device_id.as_deref())
                .await
                .unwrap(),
            lock: store.account_lock(&q.username).await.unwrap(),
        }
    }

    fn tally(store: &SqliteStore) -> (u64, u64) {
        let t = &store.read_model.tally;
        (
            t.hits.load(Ordering::Relaxed),
            t.misses.load(Ordering::Relaxed),
        )
    }

    /// `attempt` answers what the statements do, and whether it read the
    /// account again (`true`) or used its copy.
    async fn check(store: &SqliteStore, q: &AttemptQuery, step: &str) -> bool {
        let (_, misses) = tally(store);
        let got = store.attempt(q.clone()).await.unwrap();
        assert_eq!(got, uncached(store, q).await, "{step}");
        tally(store).1 > misses
    }

    fn success(name: &str, at: i64, country: &str) -> SuccessEvent {
        SuccessEvent {
            username: name.into(),
            kind: "reset".into(),
            at,
            ip: Some("192.0.2.1".into()),
            asn: Some(64_500),
            country: Some(country.into()),
            city: Some("London".into()),
            lat: Some(51.5),
            lon: Some(-0.1),
            accuracy_km: Some(20.0),
            browser: Some("Firefox".into()),
            device_id: Some("dev-1".into()),
            ..SuccessEvent::default()
        }
    }

    /// Every kind of write to what a start reads makes the next start read
    /// the account again, and until then the copy answers; a write to
    /// another account leaves the copy alone. Each step checks the answer
    /// against the statements' own.
    #[tokio::test]
    async fn every_write_to_an_account_is_seen_by_its_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resetgate.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let ann = request("ann");
        assert!(check(&store, &ann, "unknown name, first").await);
        assert!(!check(&store, &ann, "unknown name, again").await);

        let user = UserRecord {
            username: "ann".into(),
            password_hash: "h0".into(),
            email: Some("ann@example.org".into()),
            disabled: false,
            created_at: 1,
            password_changed_at: 1,
        };
        let factor = FactorRecord {
            id: "f1".into(),
            username: "ann".into(),
            kind: "totp".into(),
            label: "phone".into(),
            secret: Some(vec![1, 2, 3]),
            phone: None,
            provisioned: false,
            created_at: 2,
            last_used_at: None,
        };
        let mut other = factor.clone();
        other.id = "f-bob".into();
        other.username = "bob".into();

        store.create_user(&user).await.unwrap();
        assert!(check(&store, &ann, "created").await);
        assert!(!check(&store, &ann, "created, again").await);
        store.change_password("ann", "h1", 3, 2).await.unwrap();
        assert!(check(&store, &ann, "password changed").await);
        store.add_factor(&factor).await.unwrap();
        assert!(check(&store, &ann, "factor added").await);
        assert!(!check(&store, &ann, "factor added, again").await);
        store.add_factor(&other).await.unwrap();
        assert!(
            !check(&store, &ann, "another account's factor").await,
            "another account's write leaves ann's copy"
        );
        store.touch_factor("f1", 4).await.unwrap();
        assert!(check(&store, &ann, "factor used").await);
        assert!(
            store
                .update_factor_secret("f1", &[1, 2, 3], &[4, 5, 6])
                .await
                .unwrap()
        );
        assert!(check(&store, &ann, "factor secret resealed").await);
        store.lock_account("ann", 5, "not me").await.unwrap();
        assert!(check(&store, &ann, "locked").await);
        store.unlock_account("ann").await.unwrap();
        assert!(check(&store, &ann, "unlocked").await);
        store
            .record_success(&success("ann", 6, "GB"))
            .await
            .unwrap();
        assert!(check(&store, &ann, "a success").await);
        assert!(!check(&store, &ann, "a success, again").await);
        // Another account's success changes the global counts only: the
        // account's copy stays, the global counts are looked up again.
        store
            .record_success(&success("bob", 7, "FR"))
            .await
            .unwrap();
        assert!(!check(&store, &ann, "another account's success").await);
        assert!(store.delete_factor("ann", "f1").await.unwrap());
        assert!(check(&store, &ann, "factor deleted").await);

        // A write by another connection to the file (the CLI, another
        // gateway): the triggers see it as they see this process's writes.
        let outside = Connection::open(&path).unwrap();
        outside
            .execute("UPDATE users SET disabled = 1 WHERE username = 'ann'", [])
            .unwrap();
        assert!(check(&store, &ann, "disabled from outside").await);
        assert!(
            store
                .attempt(ann.clone())
                .await
                .unwrap()
                .user
                .unwrap()
                .disabled
        );
        outside
            .execute("DELETE FROM users WHERE username = 'ann'", [])
            .unwrap();
        assert!(check(&store, &ann, "deleted from outside").await);
        assert_eq!(store.attempt(ann.clone()).await.unwrap().user, None);
        outside
            .execute(
                "UPDATE feature_counts SET count = count + 5 WHERE scope = '' AND level = '*'",
                [],
            )
            .unwrap();
        let total = |a: &AttemptReads| a.history.counts[0].global;
        let before = total(&uncached(&store, &ann).await);
        assert_eq!(total(&store.attempt(ann.clone()).await.unwrap()), before);
        assert_eq!(before, 7, "2 successes, and 5 added from outside");
    }

    /// The copies are bounded: past its capacity a shard lets the least
    /// recently used account go, and the answers stay right.
    #[tokio::test]
    async fn the_copies_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resetgate.db");
        SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let conn = Connection::open(&path).unwrap();
        let model = ReadModel::with_capacity(4);
        let misses = || model.tally.misses.load(Ordering::Relaxed);
        let names = SHARDS * 4 * 3;
        for i in 0..names {
            model.attempt(&conn, &request(&format!("u{i}"))).unwrap();
        }
        let kept: usize = model.accounts.iter().map(|shard| locked(shard).len()).sum();
        assert!(kept <= SHARDS * 4, "{kept} kept");
        assert!(kept >= SHARDS * 2, "{kept} kept");
        // The last name is kept; the first, long unused, was let go.
        let before = misses();
        model
            .attempt(&conn, &request(&format!("u{}", names - 1)))
            .unwrap();
        assert_eq!(misses(), before, "the last name is kept");
        model.attempt(&conn, &request("u0")).unwrap();
        assert_eq!(misses(), before + 1, "the first name was let go");
    }
}
