//! Criterion benchmarks of `risk::evaluate` on the bundled policy.
//!
//! - `quiet`: a first attempt, no rule fires; low level, one factor out of two enrolled.
//! - `noisy`: the five original scored rules fire (score 60, high), two of three
//!   enrolled factors are asked for, one of them TOTP (`require_one_of`).
//! - `refused`: every original rule at its cap and both original hard limits
//!   exceeded; deny.
//! - `all_signals`: every field of `Signals` populated — all nine counters, geo
//!   with a new country and ASN and a VPN flag, an unknown device with a new
//!   browser, a history with usual places, a last success an hour ago on the
//!   other side of the world, a recent contact change and two Freeman feature
//!   hierarchies, and an anomaly score; deny, with a reason from nearly every
//!   signal.
//!
//! Run with `cargo bench -p resetgate-bench --bench risk_evaluate`; figures in
//! `bench/RESULTS.md`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use risk::{
    Anonymous, Device, Factor, FeatureCounts, Geo, History, Level, LevelCounts, Location,
    PastEvent, Policy, Signals, Velocity, evaluate,
};

fn signals(velocity: Velocity, enrolled: &[Factor]) -> Signals {
    Signals {
        velocity,
        enrolled: enrolled.to_vec(),
        ..Signals::default()
    }
}

/// A hierarchy the account has never seen at any level, in a population of 50 000.
fn novel(name: &str, levels: &[&str]) -> FeatureCounts {
    FeatureCounts {
        name: name.to_owned(),
        levels: levels
            .iter()
            .zip([0, 40, 900, 20_000])
            .map(|(level, global_seen)| LevelCounts {
                level: (*level).to_owned(),
                account_seen: 0,
                account_total: 40,
                global_seen,
                global_total: 50_000,
            })
            .collect(),
    }
}

/// An attempt from Sydney, over a VPN, on a new device, an hour after a success
/// in London, two days after the phone number changed.
fn all_signals(now: SystemTime) -> Signals {
    let london = Location {
        lat: 51.5074,
        lon: -0.1278,
        accuracy_km: 10.0,
    };
    let at = |lat, lon| Location {
        lat,
        lon,
        accuracy_km: 20.0,
    };
    Signals {
        velocity: Velocity {
            account_attempts_1h: 3,
            account_attempts_24h: 6,
            address_attempts_1h: 6,
            account_failures_1h: 1,
            address_failures_1h: 3,
            subnet_attempts_1h: 25,
            asn_attempts_1h: 40,
            address_accounts_1h: 7,
            asn_accounts_1h: 60,
        },
        enrolled: vec![Factor::Sms, Factor::Totp, Factor::Email],
        geo: Geo {
            ip: Some("203.0.113.77".parse().expect("an address")),
            country: Some("AU".into()),
            location: Some(at(-33.8688, 151.2093)),
            asn: Some(64_500),
            anonymous: Anonymous {
                vpn: true,
                ..Anonymous::default()
            },
        },
        device: Device {
            known: false,
            has_cookie: true,
            browser: Some("Firefox".into()),
            os: Some("Linux".into()),
            class: Some("pc".into()),
            automation: false,
        },
        history: History {
            events: 40,
            known_countries: vec!["GB".into(), "FR".into(), "DE".into()],
            known_asns: vec![2856, 5089, 3320],
            known_browsers: vec!["Chrome".into(), "Safari".into()],
            usual_locations: vec![london, at(48.8566, 2.3522), at(52.52, 13.405)],
            last_success: Some(PastEvent {
                at: now - Duration::from_hours(1),
                location: Some(london),
            }),
            contact_changed_at: Some(now - Duration::from_hours(50)),
            features: vec![
                novel("network", &["ip", "asn", "country"]),
                novel("user_agent", &["ua", "browser", "os", "class"]),
            ],
        },
        anomaly: Some(0.97),
        anomaly_model: Some("gmm16-0123456789ab".into()),
    }
}

fn risk_evaluate(c: &mut Criterion) {
    let policy = Policy::bundled();
    // 2026-11-26T12:00:00Z.
    let now = SystemTime::UNIX_EPOCH + Duration::from_hours(20_783 * 24 + 12);
    let quiet = Velocity {
        account_attempts_1h: 1,
        account_attempts_24h: 1,
        address_attempts_1h: 1,
        ..Velocity::default()
    };
    let noisy = Velocity {
        account_attempts_1h: 3,
        account_attempts_24h: 6,
        address_attempts_1h: 6,
        account_failures_1h: 1,
        address_failures_1h: 3,
        ..Velocity::default()
    };
    let refused = Velocity {
        account_attempts_1h: 40,
        account_attempts_24h: 90,
        address_attempts_1h: 200,
        account_failures_1h: 30,
        address_failures_1h: 50,
        ..Velocity::default()
    };
    let cases = [
        (
            "quiet",
            signals(quiet, &[Factor::Email, Factor::Totp]),
            Level::Low,
            0,
        ),
        (
            "noisy",
            signals(noisy, &[Factor::Sms, Factor::Totp, Factor::Email]),
            Level::High,
            5,
        ),
        (
            "refused",
            signals(refused, &[Factor::Webauthn]),
            Level::Deny,
            7,
        ),
        ("all_signals", all_signals(now), Level::Deny, 18),
    ];

    let mut group = c.benchmark_group("risk_evaluate");
    for (name, signals, level, reasons) in &cases {
        // Check that each case exercises the path its name promises.
        let assessment = evaluate(&policy, signals, now);
        assert_eq!(
            (assessment.level, assessment.reasons.len()),
            (*level, *reasons),
            "{name}: {:#?}",
            assessment.reasons
        );
        group.bench_function(*name, |b| {
            b.iter(|| evaluate(black_box(&policy), black_box(signals), black_box(now)));
        });
    }
    group.finish();
}

criterion_group!(benches, risk_evaluate);
criterion_main!(benches);
