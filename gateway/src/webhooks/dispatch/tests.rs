//! The dispatcher's judgement of an attempt, with made-up times.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderValue, header};

use super::*;
use crate::config::STANDARD_WEBHOOKS_SCHEDULE;
use crate::time::from_unix;

fn now() -> SystemTime {
    from_unix(1_800_000_000)
}

fn answered(status: u16) -> Sent {
    Sent::Answered {
        status,
        retry_after: None,
    }
}

fn retry_in(delay: Duration) -> Outcome {
    Outcome::Retry {
        at: millis(now() + delay),
    }
}

#[test]
fn success_gone_and_failures() {
    let schedule = STANDARD_WEBHOOKS_SCHEDULE;
    for status in [200, 201, 202, 204, 299] {
        assert_eq!(
            judge(&answered(status), 1, &schedule, now()),
            Outcome::Delivered
        );
    }
    assert_eq!(judge(&answered(410), 1, &schedule, now()), Outcome::Gone);
    // After the first attempt the next waits 5 s, after the second 5 min, …
    for status in [301, 400, 404, 500, 502] {
        assert_eq!(
            judge(&answered(status), 1, &schedule, now()),
            retry_in(Duration::from_secs(5)),
            "{status}"
        );
    }
    let refused = Sent::Failed("could not connect".into());
    assert_eq!(
        judge(&refused, 2, &schedule, now()),
        retry_in(Duration::from_mins(5))
    );
    assert_eq!(
        judge(&refused, 9, &schedule, now()),
        retry_in(Duration::from_hours(24))
    );
    // The tenth attempt was the last.
    assert_eq!(judge(&refused, 10, &schedule, now()), Outcome::Dead);
    assert_eq!(judge(&answered(500), 11, &schedule, now()), Outcome::Dead);
    // Even the last attempt counts a 2xx or a 410.
    assert_eq!(
        judge(&answered(200), 10, &schedule, now()),
        Outcome::Delivered
    );
}

#[test]
fn retry_after_is_honoured_on_429_and_503_only() {
    let schedule = [
        Duration::ZERO,
        Duration::from_secs(1),
        Duration::from_secs(1),
    ];
    let asked = |status, secs| Sent::Answered {
        status,
        retry_after: Some(Duration::from_secs(secs)),
    };
    assert_eq!(
        judge(&asked(429, 7), 1, &schedule, now()),
        retry_in(Duration::from_secs(7))
    );
    // Never sooner than the schedule: "0" does not burn the attempts.
    assert_eq!(
        judge(&asked(503, 0), 1, &schedule, now()),
        retry_in(Duration::from_secs(1))
    );
    // Not on a 500, and never beyond a day.
    assert_eq!(
        judge(&asked(500, 7), 1, &schedule, now()),
        retry_in(Duration::from_secs(1))
    );
    assert_eq!(
        judge(&asked(429, 10 * 86_400), 1, &schedule, now()),
        retry_in(MAX_RETRY_AFTER)
    );
    // It does not buy attempts beyond the schedule.
    assert_eq!(judge(&asked(429, 7), 3, &schedule, now()), Outcome::Dead);
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let with = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static(value));
        retry_after(&headers, now())
    };
    assert_eq!(with("120"), Some(Duration::from_mins(2)));
    assert_eq!(with(" 3 "), Some(Duration::from_secs(3)));
    // 1_800_000_000 is Fri, 15 Jan 2027 08:00:00 GMT.
    assert_eq!(
        with("Fri, 15 Jan 2027 08:00:30 GMT"),
        Some(Duration::from_secs(30))
    );
    assert_eq!(with("Fri, 15 Jan 2027 07:00:00 GMT"), Some(Duration::ZERO));
    assert_eq!(with("soon"), None);
    assert_eq!(with("-5"), None);
    assert_eq!(retry_after(&HeaderMap::new(), now()), None);
}
