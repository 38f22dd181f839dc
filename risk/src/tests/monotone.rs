//! Property tests, loop-based with a seeded generator: a riskier signal never
//! lowers the score or the level, and removing one never raises them.
//!
//! Each base attempt is drawn at random (a fixed seed, so failures reproduce);
//! each "knob" is applied to it in its risky direction (a flag set, a counter
//! raised, the anomaly score raised, the place moved farther away, a recent
//! contact change) and in its clearing direction, under the bundled policy and
//! under the bundled policy with hard rules (deny and allow) added.

use std::time::Duration;

use super::at;
use super::context::{LONDON, PARIS, before, feature, settled};
use crate::signals::{AnonymousKind, Location, PastEvent, VelocitySignal};
use crate::{Assessment, Factor, Policy, Signals, evaluate};

/// xorshift64*: deterministic and good enough to spread test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn coin(&mut self) -> bool {
        self.below(2) == 1
    }

    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        let index = usize::try_from(self.below(options.len() as u64)).unwrap();
        options[index].clone()
    }
}

fn policies() -> [Policy; 2] {
    let rules = "\n[[hard_rules]]\nname = \"office\"\naction = \"allow\"\ncidrs = [\"198.51.100.0/24\"]\n\
                 [[hard_rules]]\nname = \"tor\"\naction = \"deny\"\nanonymous = [\"tor\"]\n\
                 [[hard_rules]]\nname = \"embargo\"\naction = \"deny\"\ncountries = [\"KP\"]\n";
    [
        Policy::bundled(),
        Policy::parse(&format!("{}{rules}", Policy::BUNDLED_TOML)).unwrap(),
    ]
}

/// A random attempt around [`settled`]: every signal on or off, counters small.
fn base(rng: &mut Rng) -> Signals {
    let mut s = settled();
    for signal in VelocitySignal::ALL {
        s.velocity = s
            .velocity
            .with(signal, u32::try_from(rng.below(9)).unwrap());
    }
    for kind in AnonymousKind::ALL {
        s.geo.anonymous = s.geo.anonymous.with(kind, rng.below(4) == 0);
    }
    s.geo.ip = Some(rng.pick(&["81.2.69.142", "198.51.100.7"]).parse().unwrap());
    s.geo.country = rng.pick(&[
        Some("GB".to_owned()),
        Some("AU".into()),
        Some("KP".into()),
        None,
    ]);
    s.geo.asn = rng.pick(&[Some(2856), Some(1221), None]);
    s.geo.location = rng.pick(&[
        Some(LONDON),
        Some(PARIS),
        Some(Location {
            lat: -33.9,
            lon: 151.2,
            accuracy_km: 500.0,
        }),
        None,
    ]);
    s.device.known = rng.coin();
    s.device.has_cookie = s.device.known || rng.coin();
    s.device.browser = rng.pick(&[Some("Chrome".to_owned()), Some("Firefox".into()), None]);
    s.device.automation = rng.below(4) == 0;
    s.history.events = rng.pick(&[0, 12]);
    let ago = Duration::from_mins(rng.pick(&[0, 10, 180, 1_440]));
    s.history.last_success = Some(PastEvent {
        at: before(ago),
        location: rng.pick(&[Some(LONDON), None]),
    });
    s.history.contact_changed_at = rng.pick(&[None, Some(before(Duration::from_hours(30)))]);
    let seen = rng.pick(&[0, 5, 10]);
    s.history.features = vec![feature("network", &["ip", "asn", "country"], seen)];
    s.anomaly = rng.pick(&[None, Some(0.0), Some(0.4), Some(0.9)]);
    let all = [Factor::Webauthn, Factor::Totp, Factor::Sms, Factor::Email];
    s.enrolled = all.into_iter().filter(|_| rng.coin()).collect();
    s
}

type Knob = Box<dyn Fn(&mut Signals, bool)>;

/// Each knob sets its signal risky (`true`) or clears it (`false`).
fn knobs() -> Vec<(String, Knob)> {
    let mut knobs: Vec<(String, Knob)> = Vec::new();
    for kind in AnonymousKind::ALL {
        knobs.push((
            format!("anonymous {kind}"),
            Box::new(move |s, on| s.geo.anonymous = s.geo.anonymous.with(kind, on)),
        ));
    }
    knobs.push((
        "automation".into(),
        Box::new(|s, on| s.device.automation = on),
    ));
    knobs.push((
        "unknown device".into(),
        Box::new(|s, on| s.device.known = !on),
    ));
    knobs.push((
        "recent contact change".into(),
        Box::new(|s, on| {
            s.history.contact_changed_at = on.then(|| before(Duration::from_hours(1)));
        }),
    ));
    for signal in VelocitySignal::ALL {
        for step in [1, 7, u32::MAX] {
            knobs.push((
                format!("{signal} +{step}"),
                Box::new(move |s, on| {
                    let value = s.velocity.get(signal);
                    let value = if on {
                        value.saturating_add(step)
                    } else {
                        value.saturating_sub(step)
                    };
                    s.velocity = s.velocity.with(signal, value);
                }),
            ));
        }
    }
    for level in [0.0, 0.3, 0.7, 1.0, 5.0] {
        knobs.push((
            format!("anomaly to {level}"),
            Box::new(move |s, on| {
                s.anomaly = if on {
                    Some(s.anomaly.map_or(level, |a| a.max(level)))
                } else {
                    s.anomaly.map(|a| a.min(level))
                };
            }),
        ));
    }
    knobs.push((
        "anomaly gone".into(),
        Box::new(|s, on| {
            if !on {
                s.anomaly = None;
            }
        }),
    ));
    knobs.push((
        "location gone".into(),
        Box::new(|s, on| {
            if !on {
                s.geo.location = None;
            }
        }),
    ));
    knobs
}

fn assert_not_lower(after: &Assessment, before: &Assessment, what: &str) {
    assert!(
        after.score >= before.score,
        "{what}: score {} -> {}",
        before.score,
        after.score
    );
    assert!(
        after.level >= before.level,
        "{what}: level {} -> {}",
        before.level,
        after.level
    );
}

#[test]
fn a_riskier_signal_never_lowers_and_clearing_never_raises() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let policies = policies();
    let knobs = knobs();
    let mut checked = 0_u32;
    for case in 0..300 {
        let start = base(&mut rng);
        for policy in &policies {
            let before = evaluate(policy, &start, at());
            for (name, knob) in &knobs {
                let mut riskier = start.clone();
                knob(&mut riskier, true);
                let after = evaluate(policy, &riskier, at());
                assert_not_lower(&after, &before, &format!("case {case}: set {name}"));
                let mut cleared = start.clone();
                knob(&mut cleared, false);
                let after = evaluate(policy, &cleared, at());
                assert_not_lower(&before, &after, &format!("case {case}: clear {name}"));
                checked += 2;
            }
        }
    }
    assert_eq!(checked, 300 * 2 * 2 * u32::try_from(knobs.len()).unwrap());
}

#[test]
fn moving_farther_away_never_lowers() {
    // Every reference place (last success, usual locations) is in the north; the
    // attempt walks south along the meridian, so it gets farther from all of them.
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let policies = policies();
    for case in 0..100 {
        let mut start = base(&mut rng);
        start.history.usual_locations = vec![LONDON, PARIS];
        let ago = Duration::from_mins(rng.pick(&[0, 30, 240, 10_000]));
        start.history.last_success = Some(PastEvent {
            at: before(ago),
            location: Some(rng.pick(&[LONDON, PARIS])),
        });
        let accuracy_km = rng.pick(&[0.0, 20.0, 200.0]);
        for policy in &policies {
            let mut previous: Option<Assessment> = None;
            for step in 0..=16 {
                let lat = 48.0 - f64::from(step) * 5.0;
                let mut moved = start.clone();
                moved.geo.location = Some(Location {
                    lat,
                    lon: 0.0,
                    accuracy_km,
                });
                let now = evaluate(policy, &moved, at());
                if let Some(before) = &previous {
                    assert_not_lower(&now, before, &format!("case {case}: to latitude {lat}"));
                }
                previous = Some(now);
            }
        }
    }
}
