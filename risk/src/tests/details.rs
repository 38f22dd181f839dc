//! The sentences of the context signals' reasons, and how their points add up.

use std::time::Duration;

use super::at;
use super::context::{Edit, LONDON, SYDNEY, before, settled};
use crate::signals::{AnonymousKind, PastEvent};
use crate::{Level, Policy, evaluate};

fn hours(n: u64) -> Duration {
    Duration::from_hours(n)
}

#[test]
fn details_read_as_sentences_for_an_analyst() {
    let policy = Policy::bundled();
    let detail = |edit: Edit, code: &str| {
        let mut signals = settled();
        edit(&mut signals);
        let assessment = evaluate(&policy, &signals, at());
        assessment
            .reasons
            .into_iter()
            .find(|r| r.code == code)
            .unwrap_or_else(|| panic!("no {code}"))
            .detail
    };
    let cases: [(Edit, &str, &str); 9] = [
        (
            |s| s.geo.country = Some("AU".into()),
            "new_country",
            "AU is new for this account (its past successes came from: GB, FR)",
        ),
        (
            |s| s.geo.asn = Some(1221),
            "new_asn",
            "AS1221 is new for this account (its past successes came from: AS2856)",
        ),
        (
            |s| {
                s.device.known = false;
                s.device.has_cookie = false;
            },
            "new_device",
            "no device cookie (a first visit, or cookies cleared); the account has 12 past successes",
        ),
        (
            |s| s.device.browser = Some("Firefox".into()),
            "new_browser",
            "Firefox is new for this account (its past successes used: Chrome)",
        ),
        (
            |s| s.geo.anonymous.tor = true,
            "anonymous_tor",
            "81.2.69.142 is a Tor exit node (Anonymous IP database)",
        ),
        (
            |s| {
                s.geo.location = Some(SYDNEY);
                s.geo.country = Some("AU".into());
                s.history.last_success = Some(PastEvent {
                    at: before(hours(1)),
                    location: Some(LONDON),
                });
            },
            "impossible_travel",
            "51.51°N 0.13°W (±10 km) → 33.87°S 151.21°E (±10 km) AU: 16,974 km in 1 h 0 min = \
             16,974 km/h, above 900 km/h (since the last success; distance net of accuracy radii)",
        ),
        (
            |s| s.geo.location = Some(SYDNEY),
            "distance",
            "16,974 km from the nearest of the account's 1 usual location, 51.51°N 0.13°W (±10 km) \
             (5 per 1,000 km beyond 100 km, at most 25)",
        ),
        (
            |s| s.history.contact_changed_at = Some(before(hours(50))),
            "recent_contact_change",
            "a phone or e-mail factor was added or changed 2 d 2 h ago, within the 7 d window \
             (a SIM swap or account takeover shows this way)",
        ),
        (
            |s| {
                s.anomaly = Some(0.96);
                s.anomaly_model = Some("gmm16-0123456789ab".into());
            },
            "anomaly",
            "the anomaly model gmm16-0123456789ab scores this attempt 0.96 (the share of its \
             training attempts less unusual; none up to 0.75, 85 points from 0.999)",
        ),
    ];
    for (edit, code, expected) in cases {
        assert_eq!(detail(edit, code), expected, "{code}");
    }
}

#[test]
fn signals_add_up_and_saturate() {
    let policy = Policy::bundled();
    let mut signals = settled();
    signals.geo.country = Some("AU".into()); // 20
    signals.geo.asn = Some(1221); // 10
    signals.device.known = false; // 15
    let assessment = evaluate(&policy, &signals, at());
    assert_eq!(
        (assessment.score.get(), assessment.level),
        (45, Level::Medium)
    );
    for kind in AnonymousKind::ALL {
        signals.geo.anonymous = signals.geo.anonymous.with(kind, true);
    }
    let assessment = evaluate(&policy, &signals, at());
    assert_eq!(
        (assessment.score.get(), assessment.level),
        (100, Level::Deny)
    );
    assert_eq!(assessment.reasons.len(), 8);
}
