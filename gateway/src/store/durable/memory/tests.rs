//! [`MemoryDurable`] and [`PostgresStore`] against [`SqliteStore`]: the same
//! operations applied to all three give the same answers. (`PostgreSQL` runs
//! as a private server of the test binary, a fresh database per test.)

use std::fmt::Debug;

use super::*;
use crate::store::durable::locks::LockStore as _;
use crate::store::durable::{
    AttemptQuery, AttemptReads, PostgresStore, SqliteStore, postgres_test_store,
};

/// splitmix64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }

    /// True `percent` times in 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// The three implementations, each empty.
struct Stores {
    sqlite: SqliteStore,
    memory: MemoryDurable,
    postgres: PostgresStore,
}

async fn stores() -> Stores {
    Stores {
        sqlite: SqliteStore::open("sqlite::memory:").await.unwrap(),
        memory: MemoryDurable::new(),
        postgres: postgres_test_store().await,
    }
}

/// All answered alike: the same value, or all failed.
fn same<T: PartialEq + Debug>(
    sqlite: Result<T, DurableError>,
    memory: Result<T, DurableError>,
    postgres: Result<T, DurableError>,
    what: &str,
) -> Option<T> {
    match (sqlite, memory, postgres) {
        (Ok(s), Ok(m), Ok(p)) => {
            assert_eq!(s, m, "{what}: SQLite left, memory right");
            assert_eq!(s, p, "{what}: SQLite left, PostgreSQL right");
            Some(s)
        }
        (Err(_), Err(_), Err(_)) => None,
        (s, m, p) => panic!("{what}: SQLite {s:?}, memory {m:?}, PostgreSQL {p:?}"),
    }
}

/// Make the same call on each store (in turn) and compare with [`same`].
macro_rules! alike {
    ($stores:expr, $what:expr, |$s:ident| $call:expr) => {{
        let stores: &Stores = &$stores;
        let sqlite = {
            let $s = &stores.sqlite;
            $call.await
        };
        let memory = {
            let $s = &stores.memory;
            $call.await
        };
        let postgres = {
            let $s = &stores.postgres;
            $call.await
        };
        same(sqlite, memory, postgres, $what)
    }};
}

#[tokio::test]
async fn printf_matches_sqlite() {
    let sqlite = SqliteStore::open("sqlite::memory:").await.unwrap();
    let mut values = vec![
        0.0,
        -0.0,
        0.04,
        -0.04,
        0.05,
        -0.05,
        0.06,
        0.25,
        -0.25,
        0.35,
        0.45,
        0.95,
        -0.95,
        9.95,
        99.95,
        999.95,
        13.45,
        51.25,
        52.75,
        -33.86,
        151.2,
        1e15 + 0.25,
        1e16,
        1e17 + 3.0,
        123_456_789_012_345_678.0,
        9.223_372_036_854_775e18,
        1e20,
        1e300,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        1e-100,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut rng = Rng(7);
    for _ in 0..1500 {
        // Anything but NaN (which SQLite stores as NULL).
        let x = f64::from_bits(rng.next());
        if !x.is_nan() {
            values.push(x);
        }
    }
    for _ in 0..1500 {
        // Near and on the ties of the first decimal.
        let k = f64::from(u32::try_from(rng.below(40_000)).unwrap()) - 20_000.0;
        values.push(k / 20.0);
        values.push(k / 4.0);
        values.push(k / 100.0);
        values.push(k / 1000.0);
        values.push(k * 1e-5);
    }
    for x in values {
        let want: String = sqlx::query_scalar("SELECT printf('%.1f', ?)")
            .bind(x)
            .fetch_one(sqlite.pool())
            .await
            .unwrap();
        let mut got = String::new();
        printf_1f(x, &mut got);
        assert_eq!(got, want, "printf('%.1f', {x:e})");
    }
}

const USERS: [&str; 5] = ["ann", "bob", "cy", "dee", ""];
const COUNTRIES: [Option<&str>; 7] = [
    Some("GB"),
    Some("FR"),
    Some("DE"),
    Some("A/B"),
    Some("A"),
    Some(""),
    None,
];
const CITIES: [Option<&str>; 6] = [
    Some("London"),
    Some("Paris"),
    Some("B/C"),
    Some("C"),
    Some(""),
    None,
];
const COORDS: [f64; 21] = [
    51.5,
    51.2,
    51.3,
    51.25,
    51.35,
    51.45,
    51.449,
    51.46,
    48.8,
    -0.25,
    -0.04,
    0.0,
    -0.0,
    0.05,
    13.45,
    -33.86,
    151.2,
    1e20,
    f64::INFINITY,
    f64::NAN,
    51.5,
];
const BROWSERS: [Option<&str>; 5] = [
    Some("Chrome"),
    Some("Firefox"),
    Some("Safari"),
    Some("chrome"),
    None,
];
const OSES: [Option<&str>; 3] = [Some("Windows"), Some("iOS"), None];
const CLASSES: [Option<&str>; 3] = [Some("desktop"), Some("mobile"), None];

fn owned(x: Option<&str>) -> Option<String> {
    x.map(str::to_owned)
}

fn coord(rng: &mut Rng) -> Option<f64> {
    (!rng.chance(15)).then(|| rng.pick(&COORDS))
}

fn event(rng: &mut Rng, username: &str, at: i64) -> SuccessEvent {
    let (lat, lon) = (coord(rng), coord(rng));
    // A place without an accuracy fails in `SqliteStore::history`
    // (`COALESCE(accuracy_km, 0)` is an INTEGER, which sqlx refuses as `f64`):
    // no accuracy here only where there is no place (`place_without_accuracy`).
    let accuracy_km = match rng.pick(&[Some(20.0), Some(0.5), None, Some(f64::NAN)]) {
        Some(a) if !a.is_nan() => Some(a),
        _ if lat.is_some_and(|x| !x.is_nan()) && lon.is_some_and(|x| !x.is_nan()) => Some(1.0),
        other => other,
    };
    SuccessEvent {
        username: username.to_owned(),
        kind: rng.pick(&["reset", "login"]).to_owned(),
        at,
        ip: (!rng.chance(10)).then(|| format!("192.0.2.{}", rng.below(12))),
        asn: (!rng.chance(10)).then(|| 64_500 + i64::try_from(rng.below(5)).unwrap() - 2),
        country: owned(rng.pick(&COUNTRIES)),
        city: owned(rng.pick(&CITIES)),
        lat,
        lon,
        accuracy_km,
        ua: (!rng.chance(20)).then(|| format!("agent/{}", rng.below(4))),
        browser: owned(rng.pick(&BROWSERS)),
        os: owned(rng.pick(&OSES)),
        class: owned(rng.pick(&CLASSES)),
        device_id: (!rng.chance(30)).then(|| format!("dev-{}", rng.below(8))),
    }
}

/// The values an attempt presents: a fresh event's (seen or not), some
/// dropped, sometimes a level twice.
fn current(rng: &mut Rng) -> Vec<(&'static str, Option<String>)> {
    let mut values = event(rng, "x", 0).features();
    match rng.below(5) {
        0 => values.clear(),
        1 => {
            for v in &mut values {
                if rng.chance(40) {
                    *v = (v.0, None);
                }
            }
        }
        2 => {
            values.insert(0, ("country", Some("XX".to_owned())));
            values.push(("country", Some("GB".to_owned())));
            values.push(("asn", None));
        }
        3 => values.reverse(),
        _ => {}
    }
    values
}

#[tokio::test]
async fn history_matches_sqlite() {
    let stores = stores().await;
    let mut rng = Rng(42);
    let mut at = 1_780_000_000;
    for i in 0..400 {
        // Mostly forward, sometimes the same second, sometimes back.
        at += i64::try_from(rng.below(3)).unwrap();
        if rng.chance(10) {
            at -= i64::try_from(rng.below(5)).unwrap();
        }
        // The first users more often: long histories beside short ones.
        let user = USERS[rng.below(USERS.len()).min(rng.below(USERS.len()))];
        let e = event(&mut rng, user, at);
        alike!(stores, &format!("record_success #{i} {e:?}"), |s| s
            .record_success(&e));
        if i % 3 != 0 {
            continue;
        }
        for user in USERS.iter().chain(&["zed"]) {
            for _ in 0..3 {
                let current = current(&mut rng);
                let device = (!rng.chance(25)).then(|| format!("dev-{}", rng.below(10)));
                let device = device.as_deref();
                let h = alike!(
                    stores,
                    &format!("history({user:?}, {current:?}, {device:?}) after #{i}"),
                    |s| s.history(user, &current, device)
                );
                assert!(h.is_some(), "history answers");
                // And through `attempt`, which `SQLite` answers from the copies
                // it keeps between starts (`sqlite/read_model.rs`): after every
                // success they must be read again.
                let request = AttemptQuery {
                    username: (*user).to_owned(),
                    current: current.clone(),
                    device_id: device.map(str::to_owned),
                    with_user: false,
                };
                let got = alike!(stores, &format!("attempt({request:?}) after #{i}"), |s| s
                    .attempt(request.clone()));
                assert_eq!(got.map(|a| a.history), h, "attempt's history after #{i}");
            }
        }
    }
    // The sequence reached what it is meant to cover.
    let h = stores.memory.history("ann", &[], None).await.unwrap();
    assert!(h.events > 50 && h.places.len() == 10, "{h:?}");
}

/// One attempt's reads at once (`Durable::attempt`; `SQLite` runs them in
/// one transaction on its own connections) answer what the single reads do,
/// alike in every store: known, disabled, locked and unknown names, with and
/// without the user row, with and without a bound device.
#[tokio::test]
async fn attempt_reads_match_the_single_reads() {
    let stores = stores().await;
    let mut rng = Rng(7);
    for (i, name) in ["ann", "bob", "cy"].into_iter().enumerate() {
        let at = 1_780_000_000 + i64::try_from(i).unwrap();
        alike!(stores, &format!("create {name}"), |s| s
            .create_user(&user(name, "h", at)));
        let f = factor(&format!("f-{name}"), name, at, None);
        alike!(stores, &format!("factor of {name}"), |s| s.add_factor(&f));
        for j in 0..5 {
            let mut e = event(&mut rng, name, at + j);
            e.device_id = Some(format!("dev-{name}"));
            alike!(stores, &format!("success of {name}"), |s| s
                .record_success(&e));
        }
    }
    alike!(stores, "lock cy", |s| s.lock_account("cy", 5, "not me"));
    for name in ["ann", "bob", "cy", "nobody"] {
        for with_user in [true, false] {
            for device in [None, Some(format!("dev-{name}")), Some("dev-x".into())] {
                let current = current(&mut rng);
                let request = AttemptQuery {
                    username: name.into(),
                    current: current.clone(),
                    device_id: device.clone(),
                    with_user,
                };
                let step = format!("attempt({request:?})");
                let got = alike!(stores, &step, |s| s.attempt(request.clone())).unwrap();
                let single = AttemptReads {
                    user: if with_user {
                        stores.sqlite.user(name).await.unwrap()
                    } else {
                        None
                    },
                    factors: stores.sqlite.factors(name).await.unwrap(),
                    history: stores
                        .sqlite
                        .history(name, &current, device.as_deref())
                        .await
                        .unwrap(),
                    lock: stores.sqlite.account_lock(name).await.unwrap(),
                };
                assert_eq!(got, single, "{step}");
                assert_eq!(got.user.is_some(), with_user && name != "nobody");
                assert_eq!(got.lock.is_some(), name == "cy");
                assert_eq!(
                    got.history.device_known,
                    device.as_deref() == Some(&format!("dev-{name}")) && name != "nobody",
                    "{step}"
                );
            }
        }
    }
}

/// Where `SqliteStore` fails (see [`event`]), the memory store and
/// `PostgreSQL` answer what the query means: accuracy 0.
#[tokio::test]
async fn place_without_accuracy() {
    let memory = MemoryDurable::new();
    let postgres = postgres_test_store().await;
    for accuracy_km in [None, Some(f64::NAN)] {
        let e = SuccessEvent {
            username: "ann".into(),
            lat: Some(51.5),
            lon: Some(-0.1),
            accuracy_km,
            ..SuccessEvent::default()
        };
        memory.record_success(&e).await.unwrap();
        postgres.record_success(&e).await.unwrap();
        let h = memory.history("ann", &[], None).await.unwrap();
        assert_eq!(h.places, [(51.5, -0.1, 0.0)]);
        assert_eq!(h.last, Some((0, Some((51.5, -0.1, 0.0)))));
        assert_eq!(postgres.history("ann", &[], None).await.unwrap(), h);
    }
}

fn user(name: &str, hash: &str, at: i64) -> UserRecord {
    UserRecord {
        username: name.into(),
        password_hash: hash.into(),
        email: (name == "ann").then(|| "ann@example.org".to_owned()),
        disabled: name == "bob",
        created_at: at,
        password_changed_at: at,
    }
}

async fn compare_users(stores: &Stores, step: &str) {
    for name in ["ann", "bob", "nobody"] {
        alike!(stores, &format!("{step}: user {name}"), |s| s.user(name));
        for depth in [0, 1, 2, 5, usize::MAX] {
            alike!(
                stores,
                &format!("{step}: password_hashes {name} {depth}"),
                |s| s.password_hashes(name, depth)
            );
        }
    }
}

#[tokio::test]
async fn users_match_sqlite() {
    let stores = stores().await;
    compare_users(&stores, "empty").await;
    for (u, created) in [
        (user("ann", "h0", 1), Some(true)),
        (user("ann", "other", 2), Some(false)),
        (user("bob", "b0", 3), Some(true)),
    ] {
        let done = alike!(stores, &format!("create_user {u:?}"), |s| s.create_user(&u));
        assert_eq!(done, created);
    }
    compare_users(&stores, "created").await;
    let changes = [
        ("ann", "h1", 2),
        ("ann", "h2", 2),
        ("bob", "b1", 3),
        ("ann", "h3", 2),
        ("ann", "h4", 0),
        ("ann", "h5", 5),
        ("ann", "h6", 5),
        ("bob", "b2", 1),
        ("ann", "h7", 1),
        ("nobody", "x", 2),
        ("ann", "h8", usize::MAX),
    ];
    for (at, (name, hash, depth)) in (10..).zip(changes) {
        let step = format!("change_password {name} {hash} {depth}");
        let done = alike!(stores, &step, |s| s.change_password(name, hash, at, depth));
        assert_eq!(done.is_some(), name != "nobody", "{step}");
        compare_users(&stores, &step).await;
    }
}

fn factor(id: &str, username: &str, created_at: i64, secret: Option<&[u8]>) -> FactorRecord {
    FactorRecord {
        id: id.into(),
        username: username.into(),
        kind: if secret.is_some() { "totp" } else { "sms" }.into(),
        label: format!("{id} label"),
        secret: secret.map(<[u8]>::to_vec),
        phone: secret.is_none().then(|| "+15550100000".to_owned()),
        provisioned: created_at % 2 == 0,
        created_at,
        last_used_at: None,
    }
}

async fn compare_factors(stores: &Stores, step: &str) {
    for name in ["ann", "bob", "zed"] {
        alike!(stores, &format!("{step}: factors {name}"), |s| s
            .factors(name));
    }
}

#[tokio::test]
async fn factors_match_sqlite() {
    let stores = stores().await;
    let adds = [
        factor("01B", "ann", 5, None),
        factor("01A", "ann", 5, Some(b"a")),
        factor("02", "ann", 3, None),
        factor("03", "bob", 1, Some(b"s")),
        factor("04", "ann", 9, Some(b"")),
        factor("00", "ann", 9, Some(b"z")),
        factor("0a", "ann", 9, None),
        factor("0B", "ann", 9, None),
        factor("03", "ann", 2, None),
    ];
    for f in &adds {
        let step = format!("add_factor {f:?}");
        let done = alike!(stores, &step, |s| s.add_factor(f));
        assert_eq!(
            done.is_some(),
            f.username != "ann" || f.id != "03",
            "{step}"
        );
        compare_factors(&stores, &step).await;
    }
    for (id, now) in [("01A", 100), ("missing", 1), ("03", 7), ("01A", 101)] {
        let step = format!("touch_factor {id} {now}");
        alike!(stores, &step, |s| s.touch_factor(id, now));
        compare_factors(&stores, &step).await;
    }
    let swaps: [(&str, &[u8], &[u8], bool); 8] = [
        ("03", b"s", b"t", true),
        ("03", b"s", b"u", false),
        ("03", b"t", b"", true),
        ("03", b"", b"v", true),
        ("02", b"", b"x", false),
        ("04", b"", b"y", true),
        ("01A", b"A", b"b", false),
        ("missing", b"a", b"b", false),
    ];
    for (id, expected, new, swapped) in swaps {
        let step = format!("update_factor_secret {id} {expected:?} {new:?}");
        let done = alike!(stores, &step, |s| s.update_factor_secret(id, expected, new));
        assert_eq!(done, Some(swapped), "{step}");
        compare_factors(&stores, &step).await;
    }
    for (name, id, deleted) in [
        ("bob", "01A", false),
        ("ann", "01A", true),
        ("ann", "01A", false),
        ("ann", "zz", false),
        ("bob", "03", true),
    ] {
        let step = format!("delete_factor {name} {id}");
        let done = alike!(stores, &step, |s| s.delete_factor(name, id));
        assert_eq!(done, Some(deleted), "{step}");
        compare_factors(&stores, &step).await;
    }
    // A deleted id can be enrolled again.
    let f = factor("03", "ann", 2, None);
    alike!(stores, "re-add", |s| s.add_factor(&f));
    compare_factors(&stores, "re-add").await;
}

fn record(seq: i64) -> AuditRecord {
    AuditRecord {
        seq,
        at: format!("2026-03-01T00:00:{:02}Z", seq.rem_euclid(60)),
        kind: "reset.completed".into(),
        subject: format!("user{seq}"),
        data: format!("{{\"n\":{seq}}}"),
        prev_hash: format!("h{}", seq - 1),
        hash: format!("h{seq}"),
        alert: None,
    }
}

async fn compare_audit(stores: &Stores, step: &str) {
    alike!(stores, &format!("{step}: head"), |s| s.audit_head());
    for after in [i64::MIN, -5, 0, 1, 3, 6, 10, i64::MAX] {
        for limit in [i64::MIN, -1, 0, 1, 2, 100] {
            alike!(
                stores,
                &format!("{step}: page after {after} limit {limit}"),
                |s| s.audit_page(after, limit)
            );
        }
    }
}

#[tokio::test]
async fn audit_matches_sqlite() {
    let stores = stores().await;
    compare_audit(&stores, "empty").await;
    // Some(true): appended; Some(false): not the next number (a lost race),
    // nothing written; None: refused (not consecutive), nothing written.
    let batches: [(&[i64], Option<bool>); 14] = [
        (&[0], Some(false)),
        (&[2], Some(false)),
        (&[1, 2, 3], Some(true)),
        (&[], Some(true)),
        (&[4, 4], None),
        (&[4, 6], None),
        (&[5, 4], None),
        (&[3], Some(false)),
        (&[3, 4], Some(false)),
        (&[1, 2, 3, 4], Some(false)),
        (&[5], Some(false)),
        (&[4], Some(true)),
        (&[5, 6, 7, 8, 9, 10], Some(true)),
        (&[i64::MAX], Some(false)),
    ];
    for (seqs, appended) in batches {
        let records: Vec<_> = seqs.iter().copied().map(record).collect();
        let step = format!("audit_append {seqs:?}");
        let done = alike!(stores, &step, |s| s.audit_append(&records));
        assert_eq!(done, appended, "{step}");
        compare_audit(&stores, &step).await;
    }
    // Under the lock: `n` records after the head, or starting at `skip` past it.
    for (n, skip, appended) in [(2, 1, true), (0, 1, true), (1, 0, false), (1, 2, false)] {
        let chain: std::sync::Arc<ChainFn<'static>> =
            std::sync::Arc::new(move |head: Option<(i64, String)>| {
                let first = head.map_or(0, |(seq, _)| seq) + skip;
                (first..first + n).map(record).collect::<Vec<_>>()
            });
        let step = format!("audit_append_exclusive {n} from head + {skip}");
        let head = alike!(stores, &step, |s| s.audit_append_exclusive(chain.clone()));
        assert_eq!(head.is_some(), appended, "{step}");
        compare_audit(&stores, &step).await;
    }
}
