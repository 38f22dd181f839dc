use std::time::{Duration, SystemTime};

use risk::{Assessment, Factor, Level, Reason, Requirement, RiskScore};
use serde_json::Value;

use super::*;
use crate::account::AccountName;
use crate::webhooks::EventType;

const T: u64 = 1_764_150_000; // 2025-11-26T09:40:00Z

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn sample_assessment(level: Level, score: u32) -> Assessment {
    Assessment {
        score: RiskScore::new(score),
        level,
        required: Requirement {
            count: 2,
            allowed: vec![Factor::Totp, Factor::Sms],
            require_one_of: vec![],
        },
        reasons: vec![
            Reason::new("new_country", 30, "first attempt from NL for this account"),
            Reason::new("anonymous_proxy", 25, "address is a known VPN exit"),
        ],
        policy_version: "7+3f2a9c".into(),
        model_version: Some("anomaly-2025-11".into()),
    }
}

fn source(geo: bool) -> Source {
    Source {
        ip: "203.0.113.7".parse().unwrap(),
        country: geo.then(|| "NL".into()),
        city: geo.then(|| "Amsterdam".into()),
    }
}

fn attempt(level: Level, time: SystemTime) -> Attempt {
    Attempt {
        user: AccountName::parse("Alice").unwrap(),
        source: source(true),
        assessment: sample_assessment(level, if level == Level::Deny { 91 } else { 72 }),
        time,
    }
}

/// A realistic event of each type, happening at `time`.
pub(crate) fn sample_event(kind: EventType, time: SystemTime) -> Event {
    match kind {
        EventType::RiskHigh => Event::RiskHigh(attempt(Level::High, time)),
        EventType::ResetDenied => Event::ResetDenied(attempt(Level::Deny, time)),
        EventType::ResetCompleted => Event::ResetCompleted(attempt(Level::Medium, time)),
        EventType::FactorChanged => Event::FactorChanged(FactorChange {
            user: AccountName::parse("alice").unwrap(),
            factor: Factor::Totp,
            enabled: true,
            source: Some(source(false)),
            time,
        }),
        EventType::SprayDetected => Event::SprayDetected(Spray {
            finding: ulid::Ulid::from_parts(T * 1000, 42),
            source: source(true),
            distinct_accounts: 37,
            window: Duration::from_mins(10),
            first_seen: time - Duration::from_mins(9),
            time,
            assessment: Some(sample_assessment(Level::Deny, 95)),
        }),
        EventType::AccountLocked => Event::AccountLocked(Lock {
            user: AccountName::parse("alice").unwrap(),
            reason: LockReason::ReportedByOwner,
            source: None,
            time,
        }),
    }
}

/// Every sample, plus variants with the optional parts left out.
fn every_event() -> Vec<Event> {
    let mut events: Vec<Event> = EventType::ALL
        .into_iter()
        .map(|kind| sample_event(kind, at(T)))
        .collect();
    let mut no_geo = attempt(Level::High, at(T));
    no_geo.source = source(false);
    no_geo.assessment.model_version = None;
    events.push(Event::RiskHigh(no_geo));
    for factor in Factor::ALL {
        events.push(Event::FactorChanged(FactorChange {
            user: AccountName::parse("bob").unwrap(),
            factor,
            enabled: false,
            source: None,
            time: at(T),
        }));
    }
    for reason in [LockReason::TooManyFailures, LockReason::Admin] {
        events.push(Event::AccountLocked(Lock {
            user: AccountName::parse("bob").unwrap(),
            reason,
            source: Some(source(true)),
            time: at(T),
        }));
    }
    if let Event::SprayDetected(mut spray) = sample_event(EventType::SprayDetected, at(T)) {
        spray.assessment = None;
        events.push(Event::SprayDetected(spray));
    }
    events
}

fn get<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(event, |v, key| v.get(key))
}

/// What JSON type a required attribute must have in OCSF 1.7.0.
fn expected_type(path: &str) -> &'static str {
    match path {
        "metadata" | "metadata.product" | "user" | "finding_info" => "object",
        "metadata.version" | "finding_info.uid" => "string",
        // activity_id, category_uid, class_uid, severity_id, type_uid (integer_t)
        // and time (timestamp_t: milliseconds as a long).
        _ => "integer",
    }
}

fn has_type(value: &Value, want: &str) -> bool {
    match want {
        "object" => value.is_object(),
        "string" => value.as_str().is_some_and(|s| !s.is_empty()),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

#[test]
fn every_event_has_every_required_field_with_the_right_type() {
    for event in every_event() {
        let json = event.to_ocsf(&Producer::default());
        let class = json["class_uid"].as_u64().unwrap();
        let required = required_fields(u32::try_from(class).unwrap());
        assert!(!required.is_empty(), "class {class}");
        for path in required {
            let value = get(&json, path)
                .unwrap_or_else(|| panic!("{}: missing {path}\n{json:#}", event.event_type()));
            let want = expected_type(path);
            assert!(
                has_type(value, want),
                "{}: {path} should be {want}, is {value}",
                event.event_type()
            );
        }
    }
}

#[test]
fn classes_activities_and_type_uids_follow_the_table() {
    let want = [
        (EventType::RiskHigh, 3002, 3, 99),
        (EventType::ResetDenied, 3002, 3, 99),
        (EventType::ResetCompleted, 3001, 3, 4),
        (EventType::FactorChanged, 3001, 3, 10),
        (EventType::SprayDetected, 2004, 2, 1),
        (EventType::AccountLocked, 3001, 3, 9),
    ];
    for (kind, class, category, activity) in want {
        let json = sample_event(kind, at(T)).to_ocsf(&Producer::default());
        assert_eq!(json["class_uid"], class, "{kind}");
        assert_eq!(json["category_uid"], category, "{kind}");
        assert_eq!(json["activity_id"], activity, "{kind}");
        assert_eq!(json["type_uid"], class * 100 + activity, "{kind}");
    }
    for event in every_event() {
        let json = event.to_ocsf(&Producer::default());
        let (class, activity) = (
            json["class_uid"].as_u64().unwrap(),
            json["activity_id"].as_u64().unwrap(),
        );
        assert_eq!(json["type_uid"].as_u64(), Some(class * 100 + activity));
        assert_eq!(json["category_uid"].as_u64(), Some(class / 1000));
    }
    let disable = every_event()
        .into_iter()
        .find(|e| matches!(e, Event::FactorChanged(f) if !f.enabled))
        .unwrap()
        .to_ocsf(&Producer::default());
    assert_eq!(disable["activity_id"], 11);
    assert_eq!(disable["type_uid"], 300_111);
}

#[test]
fn the_schemas_constraints_hold() {
    for event in every_event() {
        let json = event.to_ocsf(&Producer::default());
        let kind = event.event_type();
        assert_eq!(json["metadata"]["version"], "1.7.0");
        assert_eq!(json["metadata"]["product"]["name"], "resetgate", "{kind}");
        if json.get("user").is_some() {
            assert!(
                json["user"]["name"].is_string(),
                "{kind}: user needs a name"
            );
        }
        if json["class_uid"] == 3002 {
            assert!(json.get("service").is_some() || json.get("dst_endpoint").is_some());
        }
        if json["class_uid"] == 2004 {
            assert!(json["finding_info"]["title"].is_string());
        }
        for endpoint in [get(&json, "src_endpoint"), get(&json, "evidences")] {
            let Some(endpoint) = endpoint else { continue };
            let endpoint = endpoint.get(0).map_or(endpoint, |e| &e["src_endpoint"]);
            assert!(endpoint["ip"].is_string(), "{kind}: {endpoint}");
            if let Some(location) = endpoint.get("location") {
                assert!(location.get("country").is_some() || location.get("city").is_some());
            }
        }
    }
}

#[test]
fn time_is_milliseconds_and_the_assessment_is_under_unmapped() {
    let json = sample_event(EventType::ResetDenied, at(T)).to_ocsf(&Producer::default());
    assert_eq!(json["time"], T * 1000);
    let a = &json["unmapped"]["assessment"];
    assert_eq!(a["score"], 91);
    assert_eq!(a["level"], "deny");
    assert_eq!(a["policy_version"], "7+3f2a9c");
    assert_eq!(a["model_version"], "anomaly-2025-11");
    assert_eq!(
        a["reasons"][0],
        serde_json::json!({"code": "new_country", "weight": 30, "detail": "first attempt from NL for this account"})
    );
    assert_eq!(json["src_endpoint"]["location"]["country"], "NL");
    assert_eq!(json["status_id"], 2);
    for kind in [EventType::FactorChanged, EventType::AccountLocked] {
        let json = sample_event(kind, at(T)).to_ocsf(&Producer::default());
        assert!(json.get("unmapped").is_none(), "{kind}");
    }
}

#[test]
fn severity_follows_the_level() {
    for (level, want) in [
        (Level::Low, 1),
        (Level::Medium, 2),
        (Level::High, 3),
        (Level::Deny, 4),
    ] {
        let json = Event::ResetCompleted(attempt(level, at(T))).to_ocsf(&Producer::default());
        assert_eq!(json["severity_id"], want, "{level:?}");
    }
}

#[test]
fn factor_kinds_map_to_ocsf_factor_types() {
    for (factor, id) in [
        (Factor::Sms, 1),
        (Factor::Totp, 7),
        (Factor::Email, 8),
        (Factor::Webauthn, 10),
    ] {
        let json = factor_changed(
            &FactorChange {
                user: AccountName::parse("a").unwrap(),
                factor,
                enabled: true,
                source: None,
                time: at(T),
            },
            &Producer::default(),
        );
        assert_eq!(json["auth_factors"][0]["factor_type_id"], id, "{factor:?}");
    }
}

#[test]
fn no_event_carries_a_secret_shaped_attribute() {
    // The builders' inputs have no field that could hold a code, token, password,
    // phone number or flow id; this walks the output for keys that would.
    const FORBIDDEN: [&str; 12] = [
        "password",
        "new_password",
        "reset_token",
        "token",
        "authentication_token",
        "secret",
        "otp",
        "phone_number",
        "email_addr",
        "flow_id",
        "raw_data",
        "status_code",
    ];
    fn walk(value: &Value, path: &str) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    assert!(!FORBIDDEN.contains(&key.as_str()), "{path}.{key}");
                    walk(child, &format!("{path}.{key}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, path)),
            _ => {}
        }
    }
    for event in every_event() {
        walk(&event.to_ocsf(&Producer::default()), "data");
    }
}

#[test]
fn unknown_classes_have_no_required_list() {
    assert!(required_fields(4001).is_empty());
    assert_eq!(required_fields(3001), required_fields(3002));
    assert!(required_fields(2004).contains(&"finding_info.uid"));
}
