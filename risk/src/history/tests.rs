//! Tests of the Freeman et al. likelihood ratio and its points.

use super::*;

/// One level: name, then (`account_seen`, `account_total`, `global_seen`, `global_total`).
fn level(name: &str, counts: (u32, u32, u32, u32)) -> LevelCounts {
    let (account_seen, account_total, global_seen, global_total) = counts;
    LevelCounts {
        level: name.to_owned(),
        account_seen,
        account_total,
        global_seen,
        global_total,
    }
}

/// A network hierarchy ip ⊂ asn ⊂ country for an account with 10 successes, in
/// a population of 10 000, where the account has seen the current value
/// `seen` times at each level.
fn network(ip: u32, asn: u32, country: u32) -> FeatureCounts {
    FeatureCounts {
        name: "network".into(),
        levels: vec![
            level("ip", (ip, 10, 3, 10_000)),
            level("asn", (asn, 10, 400, 10_000)),
            level("country", (country, 10, 5_000, 10_000)),
        ],
    }
}

fn browser(ua: u32, family: u32) -> FeatureCounts {
    FeatureCounts {
        name: "user_agent".into(),
        levels: vec![
            level("ua", (ua, 10, 50, 10_000)),
            level("browser", (family, 10, 6_000, 10_000)),
        ],
    }
}

fn history(features: Vec<FeatureCounts>) -> History {
    History {
        events: 10,
        features,
        ..History::default()
    }
}

#[test]
fn familiar_contexts_score_lower_than_novel_ones() {
    // From most familiar to most novel; each step must not lower the ratio.
    let ladder = [
        ("same ip", network(10, 10, 10)),
        ("new ip in the usual asn", network(0, 10, 10)),
        ("new asn in the usual country", network(0, 0, 10)),
        ("new country", network(0, 0, 0)),
    ];
    let ratios: Vec<f64> = ladder
        .iter()
        .map(|(_, f)| feature_log10(&f.levels))
        .collect();
    for pair in ladder.iter().zip(&ratios).collect::<Vec<_>>().windows(2) {
        let ((familiar, _), a) = pair[0];
        let ((novel, _), b) = pair[1];
        assert!(a < b, "{familiar} ({a}) must score below {novel} ({b})");
    }
    assert!(
        ratios[0] < 0.0,
        "the usual place is likelier for the account than at large"
    );
    // The novelty is charged once, at the most specific level the account knows:
    // c_u(parent) + 1 = 11 times the familiar factors above it.
    assert!((ratios[3] - 11_f64.log10()).abs() < 1e-12, "{}", ratios[3]);
}

#[test]
fn no_history_says_nothing() {
    let empty = FeatureCounts {
        name: "network".into(),
        levels: vec![
            level("ip", (0, 0, 3, 100)),
            level("country", (0, 0, 50, 100)),
        ],
    };
    assert!(
        feature_log10(&empty.levels).abs() < 1e-12,
        "LR = 1 with no account counts"
    );
    assert!(feature_log10(&[]).abs() < f64::EPSILON);
    let cases = [
        (
            "no events",
            History {
                events: 0,
                ..history(vec![network(0, 0, 0)])
            },
        ),
        ("no features", history(vec![])),
        ("no account counts", history(vec![empty])),
    ];
    for (name, history) in cases {
        assert_eq!(score(20, &history), None, "{name}");
    }
    assert_eq!(
        score(0, &history(vec![network(0, 0, 0)])),
        None,
        "weight 0 disables"
    );
}

#[test]
fn points_scale_with_log10_of_the_ratio_and_clamp() {
    let cases = [
        (-5.0, 0),
        (0.0, 0),
        (1.0, 7), // 20 / 3 = 6.67
        (1.5, 10),
        (2.0, 13), // 13.33
        (3.0, 20),
        (9.0, 20),
        (f64::NAN, 0),
        (f64::INFINITY, 20),
    ];
    for (log10, expected) in cases {
        assert_eq!(points(20, log10), expected, "log10 {log10}");
    }
    assert_eq!(points(100, 3.0), 100);
}

#[test]
fn features_multiply_and_the_reason_explains_each() {
    let novel = history(vec![network(0, 0, 0), browser(0, 0)]);
    // 11 × 11 = 121: log10 2.08, 20 × 2.08 / 3 = 13.9 -> 14.
    assert!((log10_ratio(&novel.features) - 121_f64.log10()).abs() < 1e-12);
    let reason = score(20, &novel).unwrap();
    assert_eq!((reason.code.as_str(), reason.weight), ("history_lr", 14));
    assert_eq!(
        reason.detail,
        "this context is 121× likelier for logins at large than for this account's own \
         history (Freeman et al. likelihood ratio; network: new at every level; \
         user_agent: new at every level)"
    );
    let partly = history(vec![network(0, 8, 10), browser(10, 10)]);
    let reason = score(20, &partly);
    // 9 × (familiar factors) for the network, familiar browser: under 10× in all.
    assert_eq!(reason, None, "{reason:?}");
    let new_ip = history(vec![network(0, 8, 10)]);
    let described = |feature: &FeatureCounts| {
        let mut out = String::new();
        describe(&mut out, feature);
        out
    };
    assert_eq!(
        described(&new_ip.features[0]),
        "network: new ip, asn seen 8 of 10"
    );
    assert_eq!(described(&network(10, 10, 10)), "network: ip seen 10 of 10");
    let empty = FeatureCounts {
        name: "x".into(),
        levels: vec![],
    };
    assert_eq!(described(&empty), "x: no levels");
}

#[test]
fn inconsistent_counts_are_clamped_not_trusted() {
    // A level that claims more than its parent, or more than the total.
    let odd = [
        level("ip", (50, 10, 90_000, 10_000)),
        level("country", (20, 10, 5_000, 10_000)),
    ];
    let log10 = feature_log10(&odd);
    assert!(log10.is_finite(), "{log10}");
    let clamped = [
        level("ip", (10, 10, 5_000, 10_000)),
        level("country", (10, 10, 5_000, 10_000)),
    ];
    assert!((log10 - feature_log10(&clamped)).abs() < 1e-12);
}
