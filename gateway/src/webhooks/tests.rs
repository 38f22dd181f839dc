use std::time::SystemTime;

use super::*;

#[test]
fn event_types_round_trip_through_their_names() {
    for kind in EventType::ALL {
        assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
    let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "risk.high",
            "reset.denied",
            "reset.completed",
            "factor.changed",
            "attack.spray_detected",
            "account.locked"
        ]
    );
}

#[test]
fn an_unknown_name_says_what_is_known() {
    let err = "risk.medium".parse::<EventType>().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"risk.medium\""), "{text}");
    assert!(
        text.contains("\"*\" or one of: risk.high, reset.denied"),
        "{text}"
    );
    assert!("*".parse::<EventType>().is_err());
}

#[test]
fn star_matches_everything_and_a_name_only_itself() {
    for kind in EventType::ALL {
        assert!(Subscription::All.matches(kind));
        assert!(Subscription::Only(kind).matches(kind));
        for other in EventType::ALL.into_iter().filter(|o| *o != kind) {
            assert!(!Subscription::Only(kind).matches(other));
        }
    }
    let list: Vec<Subscription> =
        serde_json::from_str(r#"["reset.denied", "attack.spray_detected"]"#).unwrap();
    assert!(Subscription::any_matches(&list, EventType::ResetDenied));
    assert!(!Subscription::any_matches(&list, EventType::RiskHigh));
    assert!(!Subscription::any_matches(&[], EventType::RiskHigh));
    let all: Vec<Subscription> = serde_json::from_str(r#"["*"]"#).unwrap();
    assert_eq!(all, [Subscription::All]);
    assert_eq!(serde_json::to_string(&all).unwrap(), r#"["*"]"#);
    assert!(serde_json::from_str::<Vec<Subscription>>(r#"["reset.*"]"#).is_err());
}

#[test]
fn the_envelope_is_type_timestamp_and_data() {
    let time = crate::time::from_unix(1_764_150_000);
    let event = ocsf::tests::sample_event(EventType::RiskHigh, time);
    let envelope = Envelope::new(&event, &Producer::default());
    let body: serde_json::Value = serde_json::from_slice(&envelope.to_body()).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(body["type"], "risk.high");
    assert_eq!(body["timestamp"], "2025-11-26T09:40:00Z");
    assert_eq!(body["data"]["class_uid"], 3002);
    assert_eq!(body["data"]["time"], 1_764_150_000_000_u64);
    let back: Envelope = serde_json::from_value(body).unwrap();
    assert_eq!(back, envelope);
}

#[test]
fn levels_are_there_for_min_level_where_an_assessment_is() {
    let now = SystemTime::UNIX_EPOCH;
    assert_eq!(
        ocsf::tests::sample_event(EventType::ResetDenied, now).level(),
        Some(risk::Level::Deny)
    );
    assert_eq!(
        ocsf::tests::sample_event(EventType::AccountLocked, now).level(),
        None
    );
}
