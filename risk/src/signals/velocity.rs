//! [`Velocity`]: the sliding-window counters, and [`VelocitySignal`], their names.
//!
//! The gateway counts reset starts and failed verifications in its ephemeral
//! store (per account, address, /24 or /48 subnet and ASN, and distinct accounts
//! per address and per ASN for password-spray detection) and reads them all in one
//! round trip. Policies refer to counters by these names (`signal =
//! "account_attempts_1h"` in `[[rules]]`, keys of `[hard_limits]`), and decisions
//! explain themselves with them, so the names are part of the policy format:
//! extend, never rename.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;
use crate::ladder::Factor;

/// What the gateway knows about one reset attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// Recent activity counters for the account and the client address.
    pub velocity: Velocity,
    /// Factors the account can use to authorise a reset (enrolled, confirmed, out of cool-off).
    pub enrolled: Vec<Factor>,
}

/// Sliding-window counters from the ephemeral store, read in one round trip.
///
/// A counter missing from a serialised value (say, an attempt recorded before the
/// counter existed) reads as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Velocity {
    /// Reset starts for this account in the last hour, including this one.
    pub account_attempts_1h: u32,
    /// Reset starts for this account in the last 24 hours, including this one.
    pub account_attempts_24h: u32,
    /// Reset starts from this client address in the last hour, including this one.
    pub address_attempts_1h: u32,
    /// Failed factor verifications for this account in the last hour.
    pub account_failures_1h: u32,
    /// Failed factor verifications from this client address in the last hour.
    pub address_failures_1h: u32,
    /// Reset starts from this address's /24 (IPv4) or /48 (IPv6) in the last hour,
    /// including this one.
    pub subnet_attempts_1h: u32,
    /// Reset starts from this address's ASN in the last hour, including this one;
    /// 0 when the ASN is unknown.
    pub asn_attempts_1h: u32,
    /// Distinct accounts with a reset started from this address in the last hour,
    /// including this one (password spray).
    pub address_accounts_1h: u32,
    /// Distinct accounts with a reset started from this ASN in the last hour,
    /// including this one; 0 when the ASN is unknown (password spray).
    pub asn_accounts_1h: u32,
}

impl Velocity {
    /// The counter that `signal` names.
    pub fn get(&self, signal: VelocitySignal) -> u32 {
        match signal {
            VelocitySignal::AccountAttempts1h => self.account_attempts_1h,
            VelocitySignal::AccountAttempts24h => self.account_attempts_24h,
            VelocitySignal::AddressAttempts1h => self.address_attempts_1h,
            VelocitySignal::AccountFailures1h => self.account_failures_1h,
            VelocitySignal::AddressFailures1h => self.address_failures_1h,
            VelocitySignal::SubnetAttempts1h => self.subnet_attempts_1h,
            VelocitySignal::AsnAttempts1h => self.asn_attempts_1h,
            VelocitySignal::AddressAccounts1h => self.address_accounts_1h,
            VelocitySignal::AsnAccounts1h => self.asn_accounts_1h,
        }
    }

    /// This value with the counter that `signal` names set to `value`.
    #[must_use]
    pub fn with(mut self, signal: VelocitySignal, value: u32) -> Self {
        let slot = match signal {
            VelocitySignal::AccountAttempts1h => &mut self.account_attempts_1h,
            VelocitySignal::AccountAttempts24h => &mut self.account_attempts_24h,
            VelocitySignal::AddressAttempts1h => &mut self.address_attempts_1h,
            VelocitySignal::AccountFailures1h => &mut self.account_failures_1h,
            VelocitySignal::AddressFailures1h => &mut self.address_failures_1h,
            VelocitySignal::SubnetAttempts1h => &mut self.subnet_attempts_1h,
            VelocitySignal::AsnAttempts1h => &mut self.asn_attempts_1h,
            VelocitySignal::AddressAccounts1h => &mut self.address_accounts_1h,
            VelocitySignal::AsnAccounts1h => &mut self.asn_accounts_1h,
        };
        *slot = value;
        self
    }
}

/// The name of one [`Velocity`] counter, as policies and reasons spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VelocitySignal {
    /// `account_attempts_1h`
    AccountAttempts1h,
    /// `account_attempts_24h`
    AccountAttempts24h,
    /// `address_attempts_1h`
    AddressAttempts1h,
    /// `account_failures_1h`
    AccountFailures1h,
    /// `address_failures_1h`
    AddressFailures1h,
    /// `subnet_attempts_1h`
    SubnetAttempts1h,
    /// `asn_attempts_1h`
    AsnAttempts1h,
    /// `address_accounts_1h`
    AddressAccounts1h,
    /// `asn_accounts_1h`
    AsnAccounts1h,
}

impl VelocitySignal {
    /// Every counter, in [`Velocity`] field order.
    pub const ALL: [Self; 9] = [
        Self::AccountAttempts1h,
        Self::AccountAttempts24h,
        Self::AddressAttempts1h,
        Self::AccountFailures1h,
        Self::AddressFailures1h,
        Self::SubnetAttempts1h,
        Self::AsnAttempts1h,
        Self::AddressAccounts1h,
        Self::AsnAccounts1h,
    ];

    /// The policy name: the [`Velocity`] field name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountAttempts1h => "account_attempts_1h",
            Self::AccountAttempts24h => "account_attempts_24h",
            Self::AddressAttempts1h => "address_attempts_1h",
            Self::AccountFailures1h => "account_failures_1h",
            Self::AddressFailures1h => "address_failures_1h",
            Self::SubnetAttempts1h => "subnet_attempts_1h",
            Self::AsnAttempts1h => "asn_attempts_1h",
            Self::AddressAccounts1h => "address_accounts_1h",
            Self::AsnAccounts1h => "asn_accounts_1h",
        }
    }

    /// Says what `count` of this counter means, for a security team reading a decision:
    /// e.g. `"5 reset attempts for this account in the last hour"`.
    pub fn describe(self, count: u32) -> String {
        Described(self, count).to_string()
    }

    /// The parts of [`VelocitySignal::describe`]'s sentence:
    /// (one unit, several units, whose, window).
    fn phrase(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Self::AccountAttempts1h => (
                "reset attempt",
                "reset attempts",
                "for this account",
                "hour",
            ),
            Self::AccountAttempts24h => (
                "reset attempt",
                "reset attempts",
                "for this account",
                "24 hours",
            ),
            Self::AddressAttempts1h => (
                "reset attempt",
                "reset attempts",
                "from this address",
                "hour",
            ),
            Self::AccountFailures1h => (
                "failed factor verification",
                "failed factor verifications",
                "for this account",
                "hour",
            ),
            Self::AddressFailures1h => (
                "failed factor verification",
                "failed factor verifications",
                "from this address",
                "hour",
            ),
            Self::SubnetAttempts1h => (
                "reset attempt",
                "reset attempts",
                "from this address's /24 (IPv4) or /48 (IPv6) network",
                "hour",
            ),
            Self::AsnAttempts1h => (
                "reset attempt",
                "reset attempts",
                "from this address's network operator (ASN)",
                "hour",
            ),
            Self::AddressAccounts1h => (
                "distinct account tried",
                "distinct accounts tried",
                "from this address",
                "hour",
            ),
            Self::AsnAccounts1h => (
                "distinct account tried",
                "distinct accounts tried",
                "from this address's network operator (ASN)",
                "hour",
            ),
        }
    }
}

/// [`VelocitySignal::describe`]'s sentence as a `Display` value, so that a
/// reason writes it without an intermediate `String`.
pub(crate) struct Described(pub VelocitySignal, pub u32);

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Described(signal, count) = *self;
        let (one, many, whose, window) = signal.phrase();
        let noun = if count == 1 { one } else { many };
        write!(f, "{count} {noun} {whose} in the last {window}")
    }
}

impl fmt::Display for VelocitySignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VelocitySignal {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|signal| signal.as_str() == name)
            .ok_or_else(|| UnknownName::new("signal", name, Self::ALL.map(Self::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_the_velocity_field_names() {
        let as_value = toml::Value::try_from(Velocity::default()).unwrap();
        let mut fields: Vec<&str> = as_value
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut names: Vec<&str> = VelocitySignal::ALL.map(VelocitySignal::as_str).to_vec();
        fields.sort_unstable();
        names.sort_unstable();
        assert_eq!(fields, names);
        for signal in VelocitySignal::ALL {
            assert_eq!(signal.as_str().parse::<VelocitySignal>().unwrap(), signal);
        }
    }

    #[test]
    fn get_reads_what_with_wrote_and_nothing_else() {
        for signal in VelocitySignal::ALL {
            let velocity = Velocity::default().with(signal, 9);
            for other in VelocitySignal::ALL {
                let expected = if other == signal { 9 } else { 0 };
                assert_eq!(velocity.get(other), expected, "{signal} set, {other} read");
            }
        }
    }

    #[test]
    fn missing_counters_read_as_zero() {
        let old: Velocity = serde_json::from_str(r#"{"account_attempts_1h": 3}"#).unwrap();
        assert_eq!(
            old,
            Velocity::default().with(VelocitySignal::AccountAttempts1h, 3)
        );
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = "account_attempts_2h".parse::<VelocitySignal>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown signal \"account_attempts_2h\" (known: account_attempts_1h, \
             account_attempts_24h, address_attempts_1h, account_failures_1h, address_failures_1h, \
             subnet_attempts_1h, asn_attempts_1h, address_accounts_1h, asn_accounts_1h)"
        );
    }

    #[test]
    fn describe_reads_as_a_sentence_with_singular_and_plural() {
        let cases = [
            (
                VelocitySignal::AccountAttempts1h,
                5,
                "5 reset attempts for this account in the last hour",
            ),
            (
                VelocitySignal::AccountAttempts24h,
                1,
                "1 reset attempt for this account in the last 24 hours",
            ),
            (
                VelocitySignal::AddressAttempts1h,
                12,
                "12 reset attempts from this address in the last hour",
            ),
            (
                VelocitySignal::AccountFailures1h,
                1,
                "1 failed factor verification for this account in the last hour",
            ),
            (
                VelocitySignal::AddressFailures1h,
                0,
                "0 failed factor verifications from this address in the last hour",
            ),
            (
                VelocitySignal::SubnetAttempts1h,
                21,
                "21 reset attempts from this address's /24 (IPv4) or /48 (IPv6) network \
                 in the last hour",
            ),
            (
                VelocitySignal::AsnAttempts1h,
                1,
                "1 reset attempt from this address's network operator (ASN) in the last hour",
            ),
            (
                VelocitySignal::AddressAccounts1h,
                7,
                "7 distinct accounts tried from this address in the last hour",
            ),
            (
                VelocitySignal::AsnAccounts1h,
                1,
                "1 distinct account tried from this address's network operator (ASN) \
                 in the last hour",
            ),
        ];
        for (signal, count, expected) in cases {
            assert_eq!(signal.describe(count), expected);
        }
    }
}
