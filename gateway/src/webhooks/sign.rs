//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, spec 1.0.0,
//! symmetric `v1` scheme).
//!
//! Every delivery carries three headers:
//!
//! - `webhook-id`: `msg_` + a ULID ([`message_id`]), made once per event and kept
//!   across retries (the outbox stores it), so a receiver can deduplicate;
//! - `webhook-timestamp`: unix seconds of *this* attempt (a retry is re-signed);
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//!   one per secret, space-separated, so during a rotation the old and the new
//!   secret both verify.
//!
//! A secret is `whsec_` + standard base64 of the key bytes; the *decoded* bytes are
//! the HMAC key (not the text), exactly as the reference libraries do. Keys must
//! be 24..=64 bytes: 24 is what the reference tooling issues, 64 is the HMAC-SHA256
//! block size (a longer key is hashed first and gains nothing).
//!
//! [`verify`] is the receiving side, for our own tests and for operators who write
//! a receiver in Rust: any of the `v1,` signatures may match, the comparison is
//! constant-time (`subtle`), and the timestamp must be within a tolerance both ways
//! (5 minutes by default, as in the reference libraries).
//!
//! Written against the spec rather than pulling in a crate: it is one HMAC and a
//! base64 codec, both already dependencies, and the known-answer test in
//! `sign/tests.rs` pins the reference implementations' published vector.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Fewest key bytes accepted.
pub const MIN_KEY_BYTES: usize = 24;
/// Most key bytes accepted (the HMAC-SHA256 block size).
pub const MAX_KEY_BYTES: usize = 64;
/// Key bytes of a [`WebhookSecret::generate`]d secret.
pub const GENERATED_KEY_BYTES: usize = 32;
/// How far a `webhook-timestamp` may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_mins(5);

/// The header names, lower case (HTTP/2 and `http::HeaderName` want lower case).
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Standard base64 that accepts keys with or without `=` padding: the reference
/// tooling issues 24-byte keys (no padding needed) and others pad.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signing secret. `Debug` never shows the key; [`WebhookSecret::expose`] (and
/// `Display`) give the `whsec_…` text, for the admin API's one-time answer only.
#[derive(Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookSecret {
    key: Zeroizing<Vec<u8>>,
}

/// Why a text is not a webhook secret. Messages never quote the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret must start with `whsec_`")]
    Prefix,
    #[error("a webhook secret has no key after `whsec_`")]
    Empty,
    #[error("a webhook secret's key must be standard base64 after `whsec_`")]
    Base64,
    #[error(
        "a webhook secret's key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, got {0} bytes"
    )]
    Length(usize),
}

impl WebhookSecret {
    /// Parse `whsec_` + base64.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = Zeroizing::new(LENIENT.decode(encoded).map_err(|_| SecretError::Base64)?);
        Self::from_key(key.to_vec())
    }

    /// A secret from raw key bytes.
    pub fn from_key(key: Vec<u8>) -> Result<Self, SecretError> {
        let key = Zeroizing::new(key);
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Self { key })
    }

    /// A new random secret of [`GENERATED_KEY_BYTES`] bytes, for a new endpoint.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut key = Zeroizing::new(vec![0u8; GENERATED_KEY_BYTES]);
        rng.fill_bytes(&mut key);
        Self { key }
    }

    /// The `whsec_…` text (padded standard base64, which every reference library
    /// decodes, Go's strict decoder included).
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(self.key.as_slice()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expose())
    }
}

impl FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = SecretError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let text = Zeroizing::new(text);
        Self::parse(&text)
    }
}

/// A new `webhook-id`: `msg_` + a ULID. Make it once per event and store it:
/// retries must send the same id.
pub fn message_id() -> String {
    format!("msg_{}", ulid::Ulid::new())
}

/// The raw HMAC of one secret over `{id}.{timestamp}.{body}`.
fn digest(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = secret.mac();
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `webhook-signature` value: `v1,<base64>` per secret, space-separated, in
/// the order given (the current secret first, then one being rotated out).
pub fn sign(secrets: &[WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            format!(
                "v1,{}",
                STANDARD.encode(digest(secret, msg_id, timestamp, body))
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three headers of one delivery attempt, names lower case.
pub fn headers(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        (HEADER_ID, msg_id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, sign(secrets, msg_id, timestamp, body)),
    ]
}

/// The signed headers as received, for [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> Signed<'a> {
    /// The three headers from a request's header map.
    pub fn from_headers(map: &'a axum::http::HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &'static str| {
            map.get(name)
                .and_then(|value| value.to_str().ok())
                .ok_or(VerifyError::MissingHeader(name))
        };
        Ok(Self {
            id: get(HEADER_ID)?,
            timestamp: get(HEADER_TIMESTAMP)?,
            signature: get(HEADER_SIGNATURE)?,
        })
    }
}

/// Why a delivery does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing or not text")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not an integer number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is too old")]
    TooOld,
    #[error("webhook-timestamp is too far in the future")]
    TooNew,
    #[error("no v1 signature matches")]
    NoMatch,
}

/// Check a delivery: the timestamp within `tolerance` of `now` (unix seconds)
/// either way, and at least one `v1,` signature made by one of `secrets` over
/// exactly these bytes. Other versions (`v1a,` …) and malformed entries are
/// skipped, as the spec asks.
pub fn verify(
    secrets: &[WebhookSecret],
    signed: &Signed<'_>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 = signed
        .timestamp
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if timestamp < now.saturating_sub(tolerance) {
        return Err(VerifyError::TooOld);
    }
    if timestamp > now.saturating_add(tolerance) {
        return Err(VerifyError::TooNew);
    }
    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|secret| digest(secret, signed.id, timestamp, body))
        .collect();
    let mut matched = subtle::Choice::from(0);
    for entry in signed.signature.split(' ') {
        let Some(encoded) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(given) = STANDARD.decode(encoded) else {
            continue;
        };
        for want in &expected {
            // `ct_eq` on slices of different lengths is false without a panic.
            matched |= want.as_slice().ct_eq(&given);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod python;
