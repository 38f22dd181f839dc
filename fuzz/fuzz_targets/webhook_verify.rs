//! Standard Webhooks signatures (`resetgate::webhooks::sign`): the receiving
//! side on arbitrary input, and signing against verifying.
//!
//! The input is text, one field a line, so seeds and crashes read as what they
//! are; a missing field is empty (numbers: 0), other lines are ignored:
//!
//! ```text
//! secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw   parsed with WebhookSecret::parse
//! old whsec_…                                     a second secret (a rotation)
//! id msg_p5jXN8AQM9LWM0D4loKWxJek                 webhook-id, as received
//! timestamp 1614265330                            webhook-timestamp, as received
//! signature v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
//! now 1614265330                                  the receiver's clock
//! tolerance 300                                   seconds
//! flip 17 32                                      a byte position and an XOR mask
//! body {"test": 2432232314}                       the rest of the input, as bytes
//! ```
//!
//! Properties:
//!
//! - `WebhookSecret::parse` and `from_key` never panic; `from_key` accepts
//!   exactly 24..=64 bytes; a parsed secret's `expose` text parses to a secret
//!   that signs the same;
//! - `Signed::from_headers` and `verify` never panic, whatever the fields;
//! - a message signed with `sign` by the secret and the old one, at a time
//!   within the tolerance, verifies with either secret, also through the
//!   headers of `headers`; it does not verify with a third secret, when the
//!   receiver's clock is out of the tolerance either way, or after a
//!   single-byte change (every position XOR 1, and `flip`) to the body, the id
//!   or the timestamp.
#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use resetgate::webhooks::sign::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_KEY_BYTES, MIN_KEY_BYTES, Signed,
    VerifyError, WebhookSecret, headers, sign, verify,
};

/// Bytes of a field changed one at a time: this only bounds the work.
const MAX_FLIPS: usize = 96;

#[derive(Debug, Default)]
struct Input<'a> {
    secret: &'a [u8],
    old: &'a [u8],
    id: &'a [u8],
    timestamp: &'a [u8],
    signature: &'a [u8],
    now: i64,
    tolerance: u64,
    flip: (usize, u8),
    body: &'a [u8],
}

impl<'a> Input<'a> {
    fn read(data: &'a [u8]) -> Self {
        let mut input = Input::default();
        let mut rest = data;
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let line = &rest[..end];
            if line.starts_with(b"body ") {
                input.body = &rest[5..];
                break;
            }
            let (key, value) = line.split_at(line.iter().position(|&b| b == b' ').unwrap_or(0));
            let value = value.get(1..).unwrap_or_default();
            let number = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
            };
            match key {
                b"secret" => input.secret = value,
                b"old" => input.old = value,
                b"id" => input.id = value,
                b"timestamp" => input.timestamp = value,
                b"signature" => input.signature = value,
                b"now" => input.now = number().unwrap_or(0),
                b"tolerance" => input.tolerance = number().map_or(0, |t: i64| t.unsigned_abs()),
                b"flip" => {
                    let text = String::from_utf8_lossy(value);
                    let mut parts = text.split_whitespace().map(str::parse::<usize>);
                    let at = parts.next().and_then(Result::ok).unwrap_or(0);
                    let xor = parts.next().and_then(Result::ok).unwrap_or(1);
                    input.flip = (at, u8::try_from(xor % 256).unwrap_or(1));
                }
                _ => {}
            }
            rest = rest.get(end + 1..).unwrap_or_default();
        }
        input
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::read(data);
    let tolerance = Duration::from_secs(input.tolerance);
    let secret = secret(input.secret);
    let old = secret_or_key(input.old);

    // Whatever was received.
    let (id, timestamp, signature) = (
        String::from_utf8_lossy(input.id),
        String::from_utf8_lossy(input.timestamp),
        String::from_utf8_lossy(input.signature),
    );
    let received = Signed {
        id: &id,
        timestamp: &timestamp,
        signature: &signature,
    };
    let _ = verify(
        &[secret.clone()],
        &received,
        input.body,
        input.now,
        tolerance,
    );
    let _ = verify(&[], &received, input.body, input.now, tolerance);
    let mut map = HeaderMap::new();
    for (name, value) in [
        (HEADER_ID, input.id),
        (HEADER_TIMESTAMP, input.timestamp),
        (HEADER_SIGNATURE, input.signature),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
    if let Ok(signed) = Signed::from_headers(&map) {
        let _ = verify(&[secret.clone()], &signed, input.body, input.now, tolerance);
    }

    sign_then_verify(&input, &secret, &old, &id, tolerance);
});

/// The `secret` line parsed; when it is not a secret, one from its bytes.
fn secret(text: &[u8]) -> WebhookSecret {
    if let Ok(text) = std::str::from_utf8(text)
        && let Ok(secret) = WebhookSecret::parse(text)
    {
        let exposed = secret.expose();
        let again = WebhookSecret::parse(&exposed).expect("an exposed secret parses");
        assert_eq!(again.expose(), exposed);
        assert_eq!(
            sign(&[secret.clone()], "msg_x", 1, b"{}"),
            sign(&[again], "msg_x", 1, b"{}")
        );
        return secret;
    }
    secret_or_key(text)
}

/// A secret from arbitrary bytes: `from_key` when their length is valid,
/// otherwise padded or cut to a valid length.
fn secret_or_key(bytes: &[u8]) -> WebhookSecret {
    let valid = (MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len());
    assert_eq!(WebhookSecret::from_key(bytes.to_vec()).is_ok(), valid);
    let mut key = bytes.to_vec();
    key.truncate(MAX_KEY_BYTES);
    key.resize(key.len().max(MIN_KEY_BYTES), 0x5a);
    WebhookSecret::from_key(key).expect("a key of a valid length")
}

fn sign_then_verify(
    input: &Input<'_>,
    current: &WebhookSecret,
    old: &WebhookSecret,
    id: &str,
    tolerance: Duration,
) {
    let tol = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    let now = input.now;
    // Sent at the received timestamp when it is within the tolerance, else at `now`.
    let timestamp = std::str::from_utf8(input.timestamp)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| {
            now.checked_sub(*t)
                .is_some_and(|d| d.unsigned_abs() <= tolerance.as_secs())
        })
        .unwrap_or(now);
    let body = input.body;
    let ts = timestamp.to_string();
    let signature = sign(&[current.clone(), old.clone()], id, timestamp, body);
    let check = |id: &str, ts: &str, body: &[u8], secrets: &[WebhookSecret], now: i64| {
        let signed = Signed {
            id,
            timestamp: ts,
            signature: &signature,
        };
        verify(secrets, &signed, body, now, tolerance)
    };
    let one = std::slice::from_ref(current);
    assert_eq!(check(id, &ts, body, one, now), Ok(()));
    assert_eq!(check(id, &ts, body, &[old.clone()], now), Ok(()));
    assert_eq!(
        check(id, &ts, body, &[old.clone(), current.clone()], now),
        Ok(())
    );
    // A secret that signed nothing.
    let stranger = secret_or_key(&[0xa5; 40]);
    if stranger.expose() != current.expose() && stranger.expose() != old.expose() {
        assert_eq!(
            check(id, &ts, body, &[stranger], now),
            Err(VerifyError::NoMatch)
        );
    }
    // The receiver's clock more than the tolerance before or after the send time.
    if let Some(gap) = tol.checked_add(1) {
        if let Some(early) = timestamp.checked_sub(gap) {
            assert_eq!(check(id, &ts, body, one, early), Err(VerifyError::TooNew));
        }
        if let Some(late) = timestamp.checked_add(gap) {
            assert_eq!(check(id, &ts, body, one, late), Err(VerifyError::TooOld));
        }
    }
    // Through the delivery's headers.
    let mut map = HeaderMap::new();
    let mut all_text = true;
    for (name, value) in headers(&[current.clone(), old.clone()], id, timestamp, body) {
        // `from_headers` reads visible ASCII only (`to_str`); an id with other
        // bytes is "not text", as documented.
        match HeaderValue::from_str(&value) {
            Ok(value) if value.to_str().is_ok() => {
                map.insert(HeaderName::from_static(name), value);
            }
            _ => all_text = false,
        }
    }
    if all_text {
        let signed = Signed::from_headers(&map).expect("the three headers are there");
        assert_eq!(verify(one, &signed, body, now, tolerance), Ok(()));
    }
    // Any single-byte change breaks it.
    for changed in flips(body, input.flip) {
        let result = check(id, &ts, &changed, one, now);
        assert_eq!(result, Err(VerifyError::NoMatch), "a changed body verified");
    }
    for changed in flips(id.as_bytes(), input.flip) {
        if let Ok(changed) = String::from_utf8(changed) {
            let result = check(&changed, &ts, body, one, now);
            assert_eq!(
                result,
                Err(VerifyError::NoMatch),
                "changed id {changed:?} verified"
            );
        }
    }
    for changed in flips(ts.as_bytes(), input.flip) {
        if let Ok(changed) = String::from_utf8(changed) {
            // Still a time within the tolerance: the signature must fail;
            // otherwise the timestamp already does.
            let result = check(id, &changed, body, one, now);
            assert_ne!(result, Ok(()), "changed timestamp {changed:?} verified");
        }
    }
}

/// `bytes` with one byte changed: each of the first [`MAX_FLIPS`] XOR 1, and
/// the one at `at` (modulo the length) XOR `xor` when that is not 0.
fn flips(bytes: &[u8], (at, xor): (usize, u8)) -> Vec<Vec<u8>> {
    let mut changes: Vec<(usize, u8)> = (0..bytes.len().min(MAX_FLIPS)).map(|i| (i, 1)).collect();
    if !bytes.is_empty() && xor != 0 {
        changes.push((at % bytes.len(), xor));
    }
    changes
        .into_iter()
        .map(|(i, mask)| {
            let mut changed = bytes.to_vec();
            changed[i] ^= mask;
            changed
        })
        .collect()
}
