//! Criterion benchmarks of `risk::evaluate` on the bundled policy.
//!
//! - `quiet`: a first attempt, no rule fires; low level, one factor out of two enrolled.
//! - `noisy`: all five scored rules fire (score 60, high), two of three enrolled
//!   factors are asked for.
//! - `refused`: every rule at its cap and both hard limits exceeded; deny.
//!
//! Run with `cargo bench -p resetgate-bench --bench risk_evaluate`; figures in
//! `bench/RESULTS.md`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use risk::{Factor, Level, Policy, Signals, Velocity, evaluate};

fn signals(velocity: Velocity, enrolled: &[Factor]) -> Signals {
    Signals {
        velocity,
        enrolled: enrolled.to_vec(),
    }
}

fn risk_evaluate(c: &mut Criterion) {
    let policy = Policy::bundled();
    // 2026-11-26T12:00:00Z; `evaluate` does not read it yet.
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
    };
    let refused = Velocity {
        account_attempts_1h: 40,
        account_attempts_24h: 90,
        address_attempts_1h: 200,
        account_failures_1h: 30,
        address_failures_1h: 50,
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
    ];

    let mut group = c.benchmark_group("risk_evaluate");
    for (name, signals, level, reasons) in &cases {
        // Check that each case exercises the path its name promises.
        let assessment = evaluate(&policy, signals, now);
        assert_eq!(
            (assessment.level, assessment.reasons.len()),
            (*level, *reasons),
            "{name}"
        );
        group.bench_function(*name, |b| {
            b.iter(|| evaluate(black_box(&policy), black_box(signals), black_box(now)));
        });
    }
    group.finish();
}

criterion_group!(benches, risk_evaluate);
criterion_main!(benches);
