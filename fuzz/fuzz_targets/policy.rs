//! `risk::Policy::parse` on arbitrary text (a policy file is uploaded through
//! the admin API and read at start-up).
//!
//! Properties: parsing never panics and is deterministic; a refusal's message
//! and location never panic and the location is inside the text; an accepted
//! policy's version is `"<declared>+<12 hex digits>"`, its thresholds are
//! ordered, and evaluating it on fixed attempts never panics, gives a score of
//! at most 100, a requirement consistent with the level and the enrolled
//! factors, and a score and level that do not drop when signals get riskier.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use risk::{
    Anonymous, Assessment, Device, Factor, Geo, History, Level, Location, PastEvent, Policy,
    PolicyError, Signals, Velocity, VelocitySignal, evaluate,
};

fuzz_target!(|text: &str| {
    let parsed = Policy::parse(text);
    assert_eq!(parsed, Policy::parse(text), "parsing is deterministic");
    match parsed {
        Err(err) => check_error(text, &err),
        Ok(policy) => check_policy(&policy),
    }
});

fn check_error(text: &str, err: &PolicyError) {
    let message = err.to_string();
    assert!(!message.is_empty());
    if let Some((line, column)) = err.location(text) {
        let lines = text.split('\n').count();
        assert!(
            (1..=lines).contains(&line),
            "line {line} of {lines}: {message}"
        );
        assert!(column >= 1, "column {column}: {message}");
    }
}

fn check_policy(policy: &Policy) {
    let hash = policy.content_hash();
    assert_eq!(hash.len(), 12);
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(
        policy.version(),
        format!("{}+{hash}", policy.declared_version())
    );
    let t = policy.thresholds();
    assert!(0 < t.medium.get() && t.medium < t.high && t.high < t.deny && t.deny.get() <= 100);

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    for enrolled in [vec![], vec![Factor::Email], Factor::ALL.to_vec()] {
        let calm = calm(enrolled.clone(), now);
        let risky = risky(calm.clone(), now);
        let a = check_assessment(policy, &calm, now);
        let b = check_assessment(policy, &risky, now);
        assert!(b.score >= a.score, "riskier signals lowered the score");
        // With every factor enrolled a rung can always be met, so the level
        // is the score's (or a hard rule's) and must not drop either.
        if enrolled.len() == Factor::ALL.len() {
            assert!(b.level >= a.level, "riskier signals lowered the level");
        }
    }
}

fn check_assessment(policy: &Policy, signals: &Signals, now: SystemTime) -> Assessment {
    let assessment = evaluate(policy, signals, now);
    assert!(assessment.score.get() <= 100);
    assert_eq!(assessment.policy_version, policy.version());
    let required = &assessment.required;
    if assessment.level == Level::Deny {
        assert_eq!(required.count, 0);
        assert!(required.allowed.is_empty() && required.require_one_of.is_empty());
    } else {
        assert!(required.count >= 1);
        assert!(usize::from(required.count) <= required.allowed.len());
        assert!(
            required
                .allowed
                .iter()
                .all(|f| signals.enrolled.contains(f))
        );
        assert!(
            required
                .require_one_of
                .iter()
                .all(|f| required.allowed.contains(f))
        );
    }
    assert!(
        assessment
            .reasons
            .windows(2)
            .all(|w| w[0].weight >= w[1].weight),
        "reasons are ordered by weight"
    );
    assessment
}

const LONDON: Location = Location {
    lat: 51.5072,
    lon: -0.1276,
    accuracy_km: 20.0,
};

/// An ordinary attempt from a documentation address in London.
fn calm(enrolled: Vec<Factor>, now: SystemTime) -> Signals {
    Signals {
        velocity: Velocity::default(),
        enrolled,
        geo: Geo {
            ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
            country: Some("GB".into()),
            location: Some(LONDON),
            asn: Some(64496),
            anonymous: Anonymous::default(),
        },
        device: Device {
            known: true,
            has_cookie: true,
            browser: Some("Firefox".into()),
            os: Some("Linux".into()),
            class: Some("pc".into()),
            automation: false,
        },
        history: History {
            events: 12,
            known_countries: vec!["GB".into()],
            known_asns: vec![64496],
            known_browsers: vec!["Firefox".into()],
            usual_locations: vec![LONDON],
            last_success: Some(PastEvent {
                at: now - Duration::from_secs(30 * 86_400),
                location: Some(LONDON),
            }),
            contact_changed_at: None,
            features: Vec::new(),
        },
        anomaly: Some(0.1),
        anomaly_model: Some("fuzz".into()),
    }
}

/// `calm` with every signal in its risky direction, at the same address (so
/// the same hard rules match, except the anonymiser ones).
fn risky(mut s: Signals, now: SystemTime) -> Signals {
    for (i, signal) in VelocitySignal::ALL.into_iter().enumerate() {
        s.velocity = s.velocity.with(signal, 40 + u32::try_from(i).unwrap_or(0));
    }
    s.geo.anonymous = Anonymous {
        vpn: true,
        tor: true,
        hosting: true,
        residential_proxy: true,
        public_proxy: true,
    };
    s.device = Device {
        known: false,
        has_cookie: false,
        browser: Some("HeadlessChrome".into()),
        os: None,
        class: Some("crawler".into()),
        automation: true,
    };
    s.history.known_countries = vec!["NZ".into()];
    s.history.known_asns = vec![64511];
    s.history.known_browsers = vec!["Safari".into()];
    let far = Location {
        lat: -36.85,
        lon: 174.76,
        accuracy_km: 5.0,
    };
    s.history.usual_locations = vec![far];
    s.history.last_success = Some(PastEvent {
        at: now - Duration::from_secs(600),
        location: Some(far),
    });
    s.history.contact_changed_at = Some(now - Duration::from_secs(300));
    s.anomaly = Some(0.999);
    s
}
