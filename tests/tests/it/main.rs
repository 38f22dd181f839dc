//! End-to-end tests of the built `resetgate` binary.
//!
//! Build the binary first (`cargo build -p resetgate`), then run
//! `cargo nextest run -p resetgate-tests` (or `cargo test -p resetgate-tests`).
//! Every test starts its own gateway in its own temporary directory; the harness
//! (fixture, SMS receiver, TOTP device) is the `resetgate_tests` library.
//!
//! # Layout
//!
//! - `admin`: `admin create`, sign-in with password and TOTP code (each
//!   refusal alike, a code used once), and the webhook endpoints managed
//!   through `/v1/admin/webhooks…` (410 disables, enable, dead letters with
//!   their attempts, redeliver, delete).
//! - `reset`: the reset journey: TOTP, the password policy, two factors, one token.
//! - `decoy`: an unknown account looks like a known one and never succeeds.
//! - `limits`: wrong codes lock a flow; an SMS code is single use.
//! - `browser`: the reset and enrolment pages in headless Chromium (playwright-core,
//!   `tests/browser/`): a passkey and an authenticator app enrolled on `/enroll`
//!   each reset the password on `/`. Needs Node.js, Chromium and
//!   `tests/browser/node_modules` (`.ci/run` installs them); screenshots in
//!   `target/test-artifacts/browser/<scenario>/`.
//! - `audit`: the audit hash chain verifies, and detects an altered or deleted row.
//! - `geo`: `GeoIP` databases built with `geo build`, the device cookie and account
//!   history score resets (home stays low, a Tor exit abroad is refused, every reason
//!   as the policy predicts); `simulate` replays the audit under a candidate policy.
//! - `email`: "was this you?" e-mails through a real SMTP relay (`aiosmtpd`) after
//!   a factor is added and after a reset: when, from where, which browser, and no
//!   code, token or password; e-mail reset codes: an account with only an address
//!   resets at low risk by the mailed code (a wrong one counted, none in the log)
//!   and is refused above low.
//! - `hardening`: attacked on purpose: one account's codes guessed from 1,000
//!   addresses stay within the flow's and the account's tries and the owner
//!   resets at once afterwards on her own device; existing and unknown accounts
//!   take the same time to start (medians within 1 ms, a Kolmogorov–Smirnov
//!   test does not separate them at p < 0.01).
//! - `ldap`: `OpenLDAP` (a private `slapd` with ppolicy, `StartTLS`) as the
//!   directory: sign-in, reset, the directory's policy, filter injection,
//!   locked entries, an outage.
//! - `logs`: no secret used in the journeys reaches the log.
//! - `schemathesis`: Schemathesis (`PyPI`) fuzzes the API of a running
//!   gateway from its `/openapi.json` (bounded example count, fixed seed, every
//!   check): no 5xx, no answer outside the document.
//! - `security`: the admin API for security teams: scoped API keys, the
//!   policy's lifecycle (line-precise refusal, diff, activate, roll back,
//!   kept across a restart), the replay of a candidate over recorded
//!   attempts matching what the shadow policy decided live, analysts' labels
//!   in the export.
//! - `sms`: reset codes through Twilio's Messages API (`sms.provider =
//!   "twilio"`) to a local receiver that speaks it: Basic auth, the form's
//!   `To`/`From`/`Body`, 503s waited out, a refused token not retried and
//!   kept out of the log.
//! - `webhooks`: SOC webhooks to a local receiver that refuses, fails and
//!   throttles before it recovers, and a gateway killed meanwhile: every event
//!   arrives once by `webhook-id`, signed (two signatures while a secret
//!   rotates), as OCSF with its required fields and no secret.

mod admin;
mod audit;
mod browser;
mod decoy;
mod email;
mod geo;
mod hardening;
mod ldap;
mod limits;
mod logs;
mod model;
mod nodes;
mod reset;
mod schemathesis;
mod security;
mod sms;
mod webhooks;
