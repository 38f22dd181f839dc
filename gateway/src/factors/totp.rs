//! TOTP (RFC 6238): HMAC-SHA-1, 30-second steps, 6 digits, ±1 step of skew,
//! via `totp-rs` (whose token comparison is constant-time). Each step is accepted
//! once per account: callers record the matched step with
//! `Ephemeral::advance` and refuse a step that is not newer than the last one.

use base64::Engine as _;
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// Step length in seconds.
pub const STEP: u64 = 30;
/// Seed length: 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
pub const SEED_BYTES: usize = 20;
/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "resetgate";

/// A fresh random seed.
pub fn new_seed() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(crate::crypto::random_bytes::<SEED_BYTES>().to_vec())
}

fn totp(seed: &[u8], account: &str) -> Totp {
    // otpauth labels may not contain ':'.
    let label = account.replace(':', "_");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(seed.to_vec())
        .with_account_name(label)
        .with_issuer(Some(ISSUER))
        .build()
        .expect("static TOTP parameters with a 160-bit seed are valid")
}

/// The step a code matches at `now` (unix seconds), if any.
pub fn check(seed: &[u8], code: &str, now: u64) -> Option<u64> {
    totp(seed, "x").check(code, now)
}

/// The code for `now` (demo output and tests).
pub fn code_at(seed: &[u8], now: u64) -> String {
    totp(seed, "x").generate(now).to_string()
}

/// The base32 secret (what a person types into an authenticator app).
pub fn base32(seed: &[u8]) -> String {
    totp_rs::Secret::from(seed.to_vec()).to_base32()
}

/// The `otpauth://` URI for an authenticator app.
pub fn otpauth_uri(seed: &[u8], account: &str) -> String {
    totp(seed, account)
        .to_url()
        .expect("account name is set, so the URL can be built")
}

/// The URI as a QR code, as an inline SVG document.
pub fn qr_svg(uri: &str) -> String {
    QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// The seed as stored (sealed) in the factor record.
pub fn seal_context(factor_id: &str) -> Vec<u8> {
    format!("totp-seed:{factor_id}").into_bytes()
}

/// Base64 for carrying a sealed seed through the ephemeral store.
pub fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
        ] {
            assert_eq!(code_at(SEED, time), code);
            assert_eq!(check(SEED, code, time), Some(time / STEP));
        }
    }

    #[test]
    fn skew_is_one_step() {
        let now = 1_800_000_000;
        assert!(check(SEED, &code_at(SEED, now - 30), now).is_some());
        assert!(check(SEED, &code_at(SEED, now + 30), now).is_some());
        assert!(check(SEED, &code_at(SEED, now - 60), now).is_none());
        assert!(check(SEED, "not-a-code", now).is_none());
    }

    #[test]
    fn secret_and_uri() {
        assert_eq!(base32(SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = otpauth_uri(SEED, "ann:x");
        assert!(uri.starts_with("otpauth://totp/resetgate:ann_x?"), "{uri}");
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(qr_svg(&uri).contains("<svg"));
    }
}
