//! An authenticator app for tests: RFC 6238 TOTP (SHA-1, 30 s, 6 digits).
//!
//! The gateway accepts each time step once per account (RFC 6238 §5.2) and a code
//! from one step before or after its clock. So the device remembers the last step
//! it handed out and always moves forward: the first code is the current step's,
//! the next one is the following step's (accepted at once thanks to the ±1 window),
//! and only a third code within the same 30 s has to wait for the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per TOTP step.
pub const STEP: u64 = 30;

/// A TOTP generator bound to one enrolled secret.
pub struct TotpDevice {
    totp: Totp,
    last_step: Option<u64>,
    issued: Vec<String>,
}

impl TotpDevice {
    /// A device for a base32 secret as the gateway returns it (padding, spaces and
    /// case are tolerated). Panics on a secret that is not base32 or shorter than
    /// the 128 bits RFC 4226 §4 requires.
    pub fn from_base32(secret: &str) -> Self {
        let cleaned: String = secret
            .chars()
            .filter(|c| *c != '=' && !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let bytes = Secret::try_from_base32(&cleaned)
            .unwrap_or_else(|err| panic!("TOTP secret {secret:?} is not base32: {err:?}"));
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP)
            .with_secret(bytes)
            .build()
            .unwrap_or_else(|err| {
                panic!("TOTP secret {secret:?} is unusable (RFC 4226 needs >= 128 bits): {err:?}")
            });
        Self {
            totp,
            last_step: None,
            issued: Vec::new(),
        }
    }

    /// The code for the first step after the last one used that the gateway accepts
    /// now; waits for the clock only when two codes were already used this step.
    pub async fn next_code(&mut self) -> String {
        let now_step = unix_now() / STEP;
        let step = self
            .last_step
            .map_or(now_step, |last| now_step.max(last + 1));
        if step > now_step + 1 {
            // The gateway accepts one step ahead at most: wait until `step - 1` begins.
            let wake = (step - 1) * STEP;
            let wait = wake.saturating_sub(unix_now()) + 1;
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        self.last_step = Some(step);
        let code = self.code_at(step * STEP);
        self.issued.push(code.clone());
        code
    }

    /// The code for the step containing `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.totp.generate(unix_seconds).to_string()
    }

    /// A six-digit code that is wrong now: none of the steps within ±2 of the clock
    /// produce it.
    pub fn wrong_code(&self) -> String {
        let now = unix_now();
        let near: Vec<String> = (0..=4)
            .map(|i| self.code_at((now + i * STEP).saturating_sub(2 * STEP)))
            .collect();
        (0..=9u32)
            .map(|digit| digit.to_string().repeat(6))
            .find(|candidate| !near.contains(candidate))
            .expect("five codes cannot cover ten candidates")
    }

    /// Every code this device handed out, oldest first.
    pub fn issued(&self) -> &[String] {
        &self.issued
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::TotpDevice;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there; the last 6 digits here).
    #[test]
    fn matches_rfc_6238_vectors() {
        // base32 of the ASCII secret "12345678901234567890".
        let device = TotpDevice::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
        ] {
            assert_eq!(device.code_at(time), code, "t = {time}");
        }
    }

    #[test]
    fn a_wrong_code_is_six_digits() {
        let device = TotpDevice::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let wrong = device.wrong_code();
        assert_eq!(wrong.len(), 6);
        assert!(wrong.chars().all(|c| c.is_ascii_digit()));
    }
}
