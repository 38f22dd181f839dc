//! One sign-in, reset or contact-change attempt ([`Attempt`]) and the two CSV
//! formats the model is trained and evaluated on.
//!
//! Training and evaluation replay attempts in time order, so an [`Attempt`] is
//! what the gateway would have seen of one request (address and what
//! geolocation says of it, user agent, device cookie, round-trip time, outcome) plus the truth
//! it cannot see: the [`Label`].
//!
//! # Formats
//!
//! - The **attempts CSV** ([`attempts`]), the project's own, written by the
//!   traffic generator ([`crate::generate`]) and by [`AttemptWriter`]; it keeps
//!   everything an [`Attempt`] holds.
//! - The **RBA dataset CSV** ([`rba`]) of Wiefling et al. (the public
//!   risk-based-authentication login dataset), read only; it has no
//!   coordinates, device cookie or anonymiser flags.
//!
//! [`read_any`] opens a file and picks the format from its header. Both readers
//! stream: one reused record buffer, fields borrowed from it while a row is
//! converted, so a million-row file costs a million [`Attempt`]s and nothing
//! more. Every error names the line (1 = the header) and, when one field is at
//! fault, its column; callers add the file name.
//!
//! The format reference with examples is `data/README.md`.

pub mod attempts;
pub mod rba;
mod reader;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use risk::Anonymous;

pub use attempts::AttemptWriter;
pub use reader::{AttemptReader, Format, read_any};
use reader::{deserialize_error, field, parse_ip, text};

/// One attempt, as the gateway would have seen it, with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Position in its file (0-based); files are in time order.
    pub index: u64,
    /// When, in Unix seconds (UTC).
    pub at: i64,
    /// What was attempted.
    pub kind: Kind,
    /// The account name tried (it may not exist).
    pub user: String,
    /// The client address.
    pub ip: IpAddr,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Option<String>,
    /// Subdivision name, e.g. `"Bavaria"`.
    pub region: Option<String>,
    /// City name, e.g. `"Munich"`.
    pub city: Option<String>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Geolocation accuracy radius around `lat`/`lon`, km.
    pub accuracy_km: Option<f64>,
    /// Autonomous system number of the address.
    pub asn: Option<u32>,
    /// Anonymiser flags of the address.
    pub anonymous: Anonymous,
    /// The `User-Agent` header (empty = none sent).
    pub user_agent: String,
    /// The device-cookie id the client presented; `None` = no cookie.
    pub device_id: Option<String>,
    /// Round-trip time measured by the server, ms.
    pub rtt_ms: Option<u32>,
    /// Whether it succeeded: right password (login), reset completed (reset),
    /// change saved (contact change).
    pub success: bool,
    /// The ground truth.
    pub label: Label,
}

/// What an attempt tried to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A password sign-in (`login`).
    Login,
    /// A self-service password reset (`reset`).
    Reset,
    /// A phone or e-mail change on the account (`contact_change`): the SIM-swap precursor.
    ContactChange,
}

/// Who was behind an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// The account's owner (`legit`).
    Legit,
    /// An attacker with the password, posing as the owner: same country, a common
    /// browser, no device cookie (`targeted_takeover`).
    TargetedTakeover,
    /// An attacker with the password and no disguise: abroad, new device, often a
    /// hosting network or VPN (`naive_takeover`).
    NaiveTakeover,
    /// Leaked name/password pairs tried across many accounts (`stuffing`).
    Stuffing,
    /// A few common passwords tried against many accounts, slowly (`spraying`).
    Spraying,
    /// The account's phone taken over, then a reset (`sim_swap`).
    SimSwap,
}

macro_rules! names {
    ($ty:ident, $what:literal, $($variant:ident = $name:literal),+ $(,)?) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The CSV spelling (snake case).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(name: &str) -> Result<Self, String> {
                match name {
                    $($name => Ok(Self::$variant),)+
                    _ => Err(format!(
                        concat!("unknown ", $what, " {:?} (known: {})"),
                        name,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

names!(
    Kind,
    "kind",
    Login = "login",
    Reset = "reset",
    ContactChange = "contact_change"
);
names!(
    Label,
    "label",
    Legit = "legit",
    TargetedTakeover = "targeted_takeover",
    NaiveTakeover = "naive_takeover",
    Stuffing = "stuffing",
    Spraying = "spraying",
    SimSwap = "sim_swap",
);

impl Label {
    /// Whether an attacker was behind it.
    pub fn is_attack(self) -> bool {
        self != Self::Legit
    }

    /// Whether it is an account takeover: an attacker who knows the password or
    /// holds the phone (targeted, naive, SIM swap), as opposed to guessing.
    pub fn is_takeover(self) -> bool {
        matches!(
            self,
            Self::TargetedTakeover | Self::NaiveTakeover | Self::SimSwap
        )
    }
}

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or created.
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A row (or the header) is malformed as CSV, or reading failed.
    #[error("line {line}: {message}")]
    Row {
        /// 1-based line where the row starts (1 = the header).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// One field of a row is invalid.
    #[error("line {line}, column {column}: {message}")]
    Field {
        /// 1-based line where the row starts.
        line: u64,
        /// The column's header name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The header is neither format's.
    #[error(
        "line 1: not an attempts CSV nor an RBA dataset CSV (header {found:?}); expected \
         {expected:?} or the RBA dataset's columns"
    )]
    UnknownFormat {
        /// The header found.
        found: String,
        /// The attempts CSV header.
        expected: &'static str,
    },
    /// Writing failed.
    #[error("writing attempts: {0}")]
    Write(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
