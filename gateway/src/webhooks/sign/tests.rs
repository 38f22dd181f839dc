use rand::SeedableRng as _;

use super::*;

/// The example that the Standard Webhooks reference libraries test against (the
/// PHP and Python libraries' `sign` tests; also quoted by several receivers).
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TIMESTAMP: i64 = 1_614_265_330;
const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret(text: &str) -> WebhookSecret {
    WebhookSecret::parse(text).unwrap()
}

fn seeded(seed: u64) -> WebhookSecret {
    WebhookSecret::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

fn signed<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> Signed<'a> {
    Signed {
        id,
        timestamp,
        signature,
    }
}

#[test]
fn the_specs_published_example_signs_to_the_published_signature() {
    let signature = sign(&[secret(SPEC_SECRET)], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
    assert_eq!(signature, SPEC_SIGNATURE);
}

#[test]
fn the_specs_published_example_verifies() {
    let ts = SPEC_TIMESTAMP.to_string();
    let result = verify(
        &[secret(SPEC_SECRET)],
        &signed(SPEC_ID, &ts, SPEC_SIGNATURE),
        SPEC_BODY,
        SPEC_TIMESTAMP + 10,
        DEFAULT_TOLERANCE,
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn headers_are_id_timestamp_and_signature() {
    let [id, ts, sig] = headers(&[secret(SPEC_SECRET)], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
    assert_eq!(id, ("webhook-id", SPEC_ID.to_owned()));
    assert_eq!(ts, ("webhook-timestamp", "1614265330".to_owned()));
    assert_eq!(sig, ("webhook-signature", SPEC_SIGNATURE.to_owned()));
}

#[test]
fn two_secrets_give_two_signatures_and_either_secret_verifies() {
    let (new, old) = (seeded(1), seeded(2));
    let body = br#"{"type":"risk.high"}"#;
    let signature = sign(&[new.clone(), old.clone()], "msg_1", 1000, body);
    let parts: Vec<&str> = signature.split(' ').collect();
    assert_eq!(parts.len(), 2, "{signature}");
    assert!(parts.iter().all(|p| p.starts_with("v1,")), "{signature}");
    assert_eq!(
        parts[0],
        sign(std::slice::from_ref(&new), "msg_1", 1000, body)
    );
    assert_eq!(
        parts[1],
        sign(std::slice::from_ref(&old), "msg_1", 1000, body)
    );
    for receiver in [new, old] {
        let result = verify(
            &[receiver],
            &signed("msg_1", "1000", &signature),
            body,
            1000,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Ok(()));
    }
    let stranger = verify(
        &[seeded(3)],
        &signed("msg_1", "1000", &signature),
        body,
        1000,
        DEFAULT_TOLERANCE,
    );
    assert_eq!(stranger, Err(VerifyError::NoMatch));
}

#[test]
fn tampering_with_body_id_or_timestamp_fails() {
    let key = seeded(4);
    let body = br#"{"type":"reset.denied","data":{}}"#;
    let signature = sign(std::slice::from_ref(&key), "msg_a", 5000, body);
    let check = |id: &str, ts: &str, body: &[u8]| {
        verify(
            std::slice::from_ref(&key),
            &signed(id, ts, &signature),
            body,
            5000,
            DEFAULT_TOLERANCE,
        )
    };
    assert_eq!(check("msg_a", "5000", body), Ok(()));
    assert_eq!(
        check("msg_a", "5000", br#"{"type":"reset.denied","data":{} }"#),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(check("msg_b", "5000", body), Err(VerifyError::NoMatch));
    assert_eq!(check("msg_a", "5001", body), Err(VerifyError::NoMatch));
}

#[test]
fn timestamps_outside_the_tolerance_fail_both_ways() {
    let key = seeded(5);
    let body = b"{}";
    let at = |ts: i64, now: i64| {
        let signature = sign(std::slice::from_ref(&key), "msg", ts, body);
        verify(
            std::slice::from_ref(&key),
            &signed("msg", &ts.to_string(), &signature),
            body,
            now,
            DEFAULT_TOLERANCE,
        )
    };
    let now = 1_700_000_000;
    assert_eq!(at(now - 300, now), Ok(()));
    assert_eq!(at(now + 300, now), Ok(()));
    assert_eq!(at(now - 301, now), Err(VerifyError::TooOld));
    assert_eq!(at(now + 301, now), Err(VerifyError::TooNew));
    assert_eq!(at(now - 86_400, now), Err(VerifyError::TooOld));
}

#[test]
fn malformed_signature_entries_are_skipped_and_a_later_match_counts() {
    let key = seeded(6);
    let good = sign(std::slice::from_ref(&key), "msg", 10, b"x");
    let header = format!("v2,abc v1,!!notbase64 v1,AAAA {good}");
    let result = verify(
        &[key],
        &signed("msg", "10", &header),
        b"x",
        10,
        DEFAULT_TOLERANCE,
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn a_bad_timestamp_header_is_refused() {
    let key = seeded(7);
    for ts in ["", "abc", "1.5", " 10"] {
        let result = verify(
            std::slice::from_ref(&key),
            &signed("msg", ts, "v1,AAAA"),
            b"",
            10,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(VerifyError::BadTimestamp), "{ts:?}");
    }
}

#[test]
fn secrets_refuse_bad_text_with_clear_errors() {
    let cases: &[(&str, SecretError)] = &[
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SecretError::Prefix),
        ("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SecretError::Prefix),
        ("whsec_", SecretError::Empty),
        ("whsec_not base64!", SecretError::Base64),
        ("whsec_c2hvcnQ=", SecretError::Length(5)),
    ];
    for (text, want) in cases {
        assert_eq!(
            WebhookSecret::parse(text).map(|_| ()),
            Err(want.clone()),
            "{text}"
        );
    }
    let too_short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
    assert_eq!(
        WebhookSecret::parse(&too_short).map(|_| ()),
        Err(SecretError::Length(23))
    );
    let too_long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
    assert_eq!(
        WebhookSecret::parse(&too_long).map(|_| ()),
        Err(SecretError::Length(65))
    );
    assert!(
        SecretError::Length(65)
            .to_string()
            .contains("24 to 64 bytes, got 65")
    );
}

#[test]
fn keys_of_24_and_64_bytes_are_accepted_padded_or_not() {
    for len in [24, 32, 64] {
        let padded = format!("whsec_{}", STANDARD.encode(vec![9u8; len]));
        let unpadded = padded.trim_end_matches('=').to_owned();
        for text in [padded, unpadded] {
            assert!(WebhookSecret::parse(&text).is_ok(), "{text}");
        }
    }
}

#[test]
fn debug_redacts_and_expose_round_trips() {
    let key = seeded(8);
    let text = key.expose();
    assert!(text.starts_with("whsec_"), "{text}");
    assert_eq!(format!("{key}"), text);
    let debug = format!("{key:?}");
    assert_eq!(debug, "WebhookSecret([REDACTED])");
    assert!(!debug.contains(&text[6..]));
    let again = WebhookSecret::parse(&text).unwrap();
    assert_eq!(again.expose(), text);
    assert_eq!(
        STANDARD.decode(&text[6..]).unwrap().len(),
        GENERATED_KEY_BYTES
    );
}

#[test]
fn generated_secrets_differ() {
    let mut rng = rand::rng();
    let a = WebhookSecret::generate(&mut rng);
    let b = WebhookSecret::generate(&mut rng);
    assert_ne!(a.expose(), b.expose());
}

#[test]
fn secrets_deserialise_from_config_text() {
    #[derive(serde::Deserialize)]
    struct Endpoint {
        secret: WebhookSecret,
    }
    let ok: Endpoint = serde_json::from_str(&format!(r#"{{"secret":"{SPEC_SECRET}"}}"#)).unwrap();
    assert_eq!(ok.secret.expose(), SPEC_SECRET);
    let err = serde_json::from_str::<Endpoint>(r#"{"secret":"hunter2"}"#)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("must start with `whsec_`"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn message_ids_are_msg_and_a_ulid() {
    let id = message_id();
    let ulid = id.strip_prefix("msg_").unwrap();
    assert!(ulid::Ulid::from_string(ulid).is_ok(), "{id}");
    assert_ne!(message_id(), id);
}

#[test]
fn signed_reads_a_header_map() {
    let mut map = axum::http::HeaderMap::new();
    for (name, value) in headers(&[secret(SPEC_SECRET)], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) {
        map.insert(name, value.parse().unwrap());
    }
    let got = Signed::from_headers(&map).unwrap();
    assert_eq!(got.id, SPEC_ID);
    assert_eq!(
        verify(
            &[secret(SPEC_SECRET)],
            &got,
            SPEC_BODY,
            SPEC_TIMESTAMP,
            DEFAULT_TOLERANCE
        ),
        Ok(())
    );
    map.remove("webhook-timestamp");
    assert_eq!(
        Signed::from_headers(&map),
        Err(VerifyError::MissingHeader("webhook-timestamp"))
    );
}
