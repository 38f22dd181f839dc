//! End-to-end test harness for the built `resetgate` binary.
//!
//! The tests in `tests/it/` drive the real binary the way a user does: they write a
//! config file, start `resetgate serve` on a free port, talk JSON over HTTP, run CLI
//! verbs with the same `--config`, receive SMS codes on a local webhook and compute
//! TOTP codes like an authenticator app. Nothing is linked from the gateway crate, so
//! the tests see only the contract in `DESIGN.md` (CLI, HTTP API, config keys).
//!
//! # Running
//!
//! ```text
//! cargo build -p resetgate                  # the binary under test
//! cargo nextest run -p resetgate-tests      # or: cargo test -p resetgate-tests
//! ```
//!
//! `RESETGATE_BIN=/path/to/resetgate` picks another binary; otherwise
//! `target/debug/resetgate` is used, else `target/release/resetgate`.
//!
//! # Layout
//!
//! - [`browser`]: runs the browser scenarios of `tests/browser/` (Node.js,
//!   playwright-core, headless Chromium) against a gateway; screenshots go to
//!   `target/test-artifacts/browser/<scenario>/`.
//! - [`binary`]: finds the binary under test and the workspace root.
//! - [`gateway`]: the [`Gateway`] fixture: a tempdir with config, key, `SQLite` file,
//!   breached-password list and log; `serve` on a free port, readiness by polling
//!   `/readyz`, CLI verbs, restart, and a kill on drop. Optional settings: a policy,
//!   `server.trusted_proxies`, and `[geo]` databases ([`GeoDbs`]) built from a CSV
//!   with `resetgate geo build`.
//! - [`api`]: a small JSON client ([`Api`]) and its response type ([`Resp`]); an
//!   [`Api`] can send `X-Forwarded-For`, `User-Agent` and a cookie with every
//!   request, and a [`Resp`] keeps the `Set-Cookie` headers.
//! - [`audit`]: reading `resetgate audit export` (the decisions behind reset starts).
//! - [`sms`]: the local SMS receiver the gateway's `webhook` provider posts to.
//! - [`smtp`]: the local SMTP sink (`aiosmtpd` in a venv under `target/`) that
//!   `email.smtp_url` points at ([`GatewayBuilder::smtp_url`]).
//! - [`webhook`]: the local SOC ([`WebhookReceiver`]) that `[[webhooks]] url` points
//!   at: a port reserved before it listens, stop and listen again, a programmable
//!   plan of replies ([`Reply`]: statuses, `Retry-After`, `410 Gone`), every request
//!   recorded ([`Received`]) with its Standard Webhooks signature checked.
//! - [`totp`]: an authenticator app ([`TotpDevice`]) that never reuses a time step.
//! - [`fixtures`]: users, passwords, the HIBP-format breached list, policies.
//! - [`flows`]: user journeys the tests share (sign in, enrol TOTP, start, verify and
//!   complete a reset).
//! - [`leaks`]: searching captured output for secrets.
//!
//! Every test starts its own [`Gateway`] in its own tempdir, so tests run in parallel
//! (each nextest test is its own process; `cargo test` runs them on threads). When a
//! test fails, the fixture keeps its tempdir and prints the tail of the gateway log.

pub mod api;
pub mod audit;
pub mod binary;
pub mod browser;
pub mod fixtures;
pub mod flows;
pub mod gateway;
pub mod leaks;
pub mod sms;
pub mod smtp;
pub mod totp;
pub mod webhook;

pub use api::{Api, Resp};
pub use gateway::{CliOutput, Gateway, GatewayBuilder, GeoDbs, StoreSetup, StoreUrls};
pub use resetgate_services as services;
pub use sms::{Sms, SmsReceiver};
pub use smtp::{Mail, SmtpSink};
pub use totp::TotpDevice;
pub use webhook::{Received, Reply, WebhookReceiver};
