//! resetgate: an adaptive-risk authentication gateway for self-service password
//! reset. Every reset attempt is scored by `risk`; the score decides which
//! factors the person must pass before the reset core sets the new password in
//! the directory.
//!
//! # Layout
//!
//! - [`config`]: TOML + environment configuration, secrets from files.
//! - [`app`]: [`app::AppState`] (every service behind `Arc`s) and [`app::serve`].
//! - [`http`]: the router, extractors (client address, JSON body, session),
//!   per-address rate limiting, handlers and the one [`http::error::ApiError`].
//! - [`flow`]: the reset flow state machine and its operations (start,
//!   challenge, verify, status).
//! - [`reset_core`]: password policy and the hand-off to the directory.
//! - [`factors`]: TOTP, SMS and e-mail codes, WebAuthn, eligibility and
//!   cool-off, decoys, enrolment.
//! - [`session`]: sign-in for enrolment; [`notify`]: "was this you?" notices;
//!   [`lock`]: their single-use "this wasn't me" link that locks resets.
//! - [`signals`]: gathering what `risk` decides on: context, geo, device,
//!   account history, velocity.
//! - [`store`]: the ephemeral (memory, Redis, Redis Cluster) and durable
//!   (`SQLite`, `PostgreSQL`) stores behind traits.
//! - [`directory`]: the identity store connectors (built-in, argon2id).
//! - [`audit`]: the hash-chained audit log with a group-committing writer.
//! - [`webhooks`]: SOC alert events: Standard Webhooks signing, OCSF 1.7.0
//!   event bodies, the outbox (committed with the audit record) and the
//!   dispatcher (leases, retries, `Retry-After`, 410, dead letters).
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`admin`]: administrators (password + TOTP sign-in, audited actions);
//!   [`admin_webauthn`]: passkeys as their other second factor;
//!   [`api_keys`]: scoped keys for machine clients; [`policies`]: policy
//!   versions, activation, rollback, the shadow candidate; [`decisions`]:
//!   recorded decisions and analysts' labels; [`simulate`]: the replay of
//!   recorded attempts under a candidate policy or model.
//! - [`console`]: what the `/admin` pages show (counts and SVG charts).
//! - [`crypto`], [`account`], [`time`]: small shared building blocks.
//! - [`cli`]: the command-line verbs; [`demo`]: `serve --demo` seeding.

pub mod account;
pub mod admin;
pub mod admin_webauthn;
pub mod api_keys;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod console;
pub mod crypto;
pub mod decisions;
pub mod demo;
pub mod directory;
pub mod email;
pub mod evaluate;
pub mod factors;
pub mod flow;
pub mod http;
pub mod lock;
pub mod metrics;
pub mod notify;
pub mod policies;
pub mod replay;
pub mod reset_core;
pub mod session;
pub mod signals;
pub mod simulate;
pub mod store;
pub mod time;
pub mod webhooks;
