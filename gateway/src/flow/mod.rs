//! The reset flow: a state machine kept in the ephemeral store.
//!
//! ```text
//!            start
//!              │ level = deny, or the account cannot meet the requirement
//!              ├──────────────────────────────────────────────► Denied
//!              ▼
//!   ┌──── Challenge ◄──┐ a factor passed, more required
//!   │          │       │
//!   │          ├───────┘
//!   │          │ the last required factor passed (token issued)
//!   │          ▼
//!   │      Verified ──complete: password accepted, CAS won──► Completing ──► Done
//!   │          ▲                                                   │
//!   │          └──────────── directory refused / unavailable ◄─────┘
//!   │ max wrong codes in this flow
//!   └────────────────────────────────────────────────────────────► Locked
//!   any state, now >= expires_at: expired (410)
//! ```
//!
//! Sources: OWASP Forgot Password Cheat Sheet (uniform responses, single-use
//! tokens, rate limits), NIST SP 800-63B-4 §3.2.2 (rate limiting of
//! authenticator attempts) and §3.1.3/§3.1.4 (out-of-band and OTP codes are
//! single use, ≥ 6 digits, short-lived). Every transition is a pure method
//! here; [`service`] loads, applies and compare-and-swaps them.

pub mod service;

use risk::{Factor, Level};
use serde::{Deserialize, Serialize};

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Challenge,
    Verified,
    Completing,
    Done,
    Denied,
    Locked,
}

/// A factor the person may use in this flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowOption {
    pub factor: Factor,
    pub hint: String,
    /// The enrolled factor records behind this option (none for decoys).
    pub factor_ids: Vec<String>,
}

/// A code sent for this flow, stored as a keyed MAC, never in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    pub factor: Factor,
    pub mac: String,
    pub expires_at: i64,
}

/// The whole flow record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    pub account: String,
    /// An unknown or disabled account: looks the same, can never succeed.
    pub decoy: bool,
    pub address: String,
    /// The address's counting bucket (IPv6: its /64).
    pub bucket: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: State,
    pub score: u8,
    pub level: Level,
    pub required: u8,
    /// At least one passed factor must be one of these (empty: no condition),
    /// e.g. "SMS never suffices at high".
    #[serde(default)]
    pub require_one_of: Vec<Factor>,
    pub options: Vec<FlowOption>,
    pub passed: Vec<Factor>,
    pub failures: u8,
    pub sends: u8,
    /// New passwords tried with this flow's reset token ([`MAX_PASSWORD_TRIES`]).
    #[serde(default)]
    pub password_tries: u8,
    pub codes: Vec<PendingCode>,
    pub token_mac: Option<String>,
    /// Where the attempt comes from; recorded as history when it succeeds.
    #[serde(default)]
    pub context: crate::signals::context::Context,
    /// The decision's explanation and versions, for the SOC's
    /// `reset.completed` event ([`Flow::assessment`]).
    #[serde(default)]
    pub reasons: Vec<risk::Reason>,
    #[serde(default)]
    pub policy_version: String,
    #[serde(default)]
    pub model_version: Option<String>,
    /// The account counters' lane this flow's codes count in: its device was
    /// bound to the account when it started (`signals::velocity`, two lanes).
    #[serde(default)]
    pub lane: crate::signals::velocity::Lane,
}

impl Flow {
    /// The assessment that started this flow, as kept in it.
    pub fn assessment(&self) -> risk::Assessment {
        risk::Assessment {
            score: risk::RiskScore::new(u32::from(self.score)),
            level: self.level,
            required: risk::Requirement {
                count: self.required,
                allowed: self.options.iter().map(|o| o.factor).collect(),
                require_one_of: self.require_one_of.clone(),
            },
            reasons: self.reasons.clone(),
            policy_version: self.policy_version.clone(),
            model_version: self.model_version.clone(),
        }
    }
}

/// Why a flow cannot take the requested step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    Expired,
    Locked,
    Denied,
    /// The factor is not among this flow's options.
    FactorNotOffered,
    /// The factor was already passed in this flow.
    AlreadyPassed,
    /// Verification is over (verified, completing or done).
    NotChallenging,
    /// Complete before the factors were passed.
    NotVerified,
    /// The reset token was already used (or is being used).
    TokenUsed,
    /// Another reset of the account completed after this flow started.
    Superseded,
    /// Too many codes sent in this flow.
    TooManySends,
    /// The last factor to pass must be a stronger one (`require_one_of`).
    NotStrongEnough,
}

/// What a passed factor leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Remaining(u8),
    Verified,
}

/// Codes one flow may send (SMS pumping and annoyance bound).
pub const MAX_SENDS: u8 = 3;

/// New passwords one verified flow may try. Each refusal says why, and one
/// reason (`reused`) tells that a guess is the current or a recent password:
/// the bound keeps that from being an oracle for whoever passed the factors.
pub const MAX_PASSWORD_TRIES: u8 = 10;

impl Flow {
    /// Is the flow still usable at `now` for anything?
    pub fn check_live(&self, now: i64) -> Result<(), FlowError> {
        if now >= self.expires_at {
            return Err(FlowError::Expired);
        }
        match self.state {
            State::Locked => Err(FlowError::Locked),
            State::Denied => Err(FlowError::Denied),
            _ => Ok(()),
        }
    }

    /// May `factor` be challenged or verified now?
    pub fn check_factor(&self, factor: Factor, now: i64) -> Result<&FlowOption, FlowError> {
        self.check_live(now)?;
        if self.state != State::Challenge {
            return Err(FlowError::NotChallenging);
        }
        if self.passed.contains(&factor) {
            return Err(FlowError::AlreadyPassed);
        }
        // The last factor must meet the strong-factor condition if nothing has.
        if self.remaining() == 1 && !self.strong_enough() && !self.require_one_of.contains(&factor)
        {
            return Err(FlowError::NotStrongEnough);
        }
        self.options
            .iter()
            .find(|o| o.factor == factor)
            .ok_or(FlowError::FactorNotOffered)
    }

    /// Record a code sent for `factor`, replacing an earlier one.
    pub fn add_code(&mut self, code: PendingCode) -> Result<(), FlowError> {
        if self.sends >= MAX_SENDS {
            return Err(FlowError::TooManySends);
        }
        self.sends += 1;
        self.codes.retain(|c| c.factor != code.factor);
        self.codes.push(code);
        Ok(())
    }

    /// The live pending code for `factor`.
    pub fn pending_code(&self, factor: Factor, now: i64) -> Option<&PendingCode> {
        self.codes
            .iter()
            .find(|c| c.factor == factor && now < c.expires_at)
    }

    /// A code about to be checked is charged as a failure first, and stored
    /// so by compare-and-swap before the check: of parallel guesses only the
    /// one whose charge is stored is checked. The check's outcome gives it
    /// back ([`Self::refund_try`]) before recording itself.
    pub fn charge_try(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// Undo [`Self::charge_try`] once the code has been checked.
    pub fn refund_try(&mut self) {
        self.failures = self.failures.saturating_sub(1);
    }

    /// A wrong code: returns the attempts left; at zero the flow is locked.
    pub fn record_failure(&mut self, max: u8) -> u8 {
        self.failures = self.failures.saturating_add(1);
        let left = max.saturating_sub(self.failures);
        if left == 0 {
            self.lock();
        }
        left
    }

    /// No more tries: the flow is locked and its codes are gone.
    pub fn lock(&mut self) {
        self.state = State::Locked;
        self.codes.clear();
    }

    /// A right code: the code is burnt; the flow moves on.
    pub fn record_pass(&mut self, factor: Factor) -> Progress {
        self.codes.retain(|c| c.factor != factor);
        if !self.passed.contains(&factor) {
            self.passed.push(factor);
        }
        let remaining = self.remaining();
        if remaining == 0 {
            self.state = State::Verified;
            Progress::Verified
        } else {
            Progress::Remaining(remaining)
        }
    }

    /// Factors still to pass: the count left, or 1 while the count is met but
    /// no passed factor is one of `require_one_of`.
    pub fn remaining(&self) -> u8 {
        let left = self
            .required
            .saturating_sub(u8::try_from(self.passed.len()).unwrap_or(u8::MAX));
        if left == 0 && !self.strong_enough() {
            1
        } else {
            left
        }
    }

    fn strong_enough(&self) -> bool {
        self.require_one_of.is_empty()
            || self.passed.iter().any(|f| self.require_one_of.contains(f))
    }

    /// A new password is about to be checked with the reset token: counted
    /// first (and stored by compare-and-swap before the check), so that tries
    /// in parallel are each counted. Past [`MAX_PASSWORD_TRIES`] the flow
    /// locks and its token is gone.
    pub fn count_password_try(&mut self) -> Result<(), FlowError> {
        if self.password_tries >= MAX_PASSWORD_TRIES {
            self.state = State::Locked;
            self.token_mac = None;
            return Err(FlowError::Locked);
        }
        self.password_tries += 1;
        Ok(())
    }

    /// Begin completing: only from `Verified`, only once.
    pub fn begin_complete(&mut self, now: i64) -> Result<(), FlowError> {
        self.check_live(now)?;
        match self.state {
            State::Verified => {
                self.state = State::Completing;
                Ok(())
            }
            State::Challenge => Err(FlowError::NotVerified),
            State::Completing | State::Done => Err(FlowError::TokenUsed),
            State::Denied => Err(FlowError::Denied),
            State::Locked => Err(FlowError::Locked),
        }
    }

    /// The status word shown to clients.
    pub fn status(&self, now: i64) -> &'static str {
        if now >= self.expires_at && self.state != State::Done {
            return "expired";
        }
        match self.state {
            State::Challenge => "challenge",
            State::Verified | State::Completing => "verified",
            State::Done => "done",
            State::Denied => "denied",
            State::Locked => "locked",
        }
    }
}

#[cfg(test)]
mod tests;
