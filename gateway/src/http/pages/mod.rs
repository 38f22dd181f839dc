//! The server-rendered pages people use: `/` and `/reset…` to reset a
//! password, `/enroll…` to sign in and manage the ways to verify it's them,
//! `/admin…` for administrators.
//!
//! Why a separate module: the pages are just another client of the services
//! the JSON API calls (`flow::service`, `reset_core`, `session`,
//! `factors::enrol`, `factors::webauthn`). Handlers extract, call, and render
//! an askama template (`gateway/templates/`); every decision stays in the
//! services, so a rule holds for the pages exactly as for `/v1`.
//!
//! Browser state lives in cookies, never in URLs (URLs get logged): the flow
//! id, the reset token once verified, the enrolment session (see [`cookie`]).
//! Every form POST carries a signed double-submit token and is refused when a
//! foreign `Origin` sent it (see [`csrf`]). Pages answer with their own strict
//! Content-Security-Policy: scripts and styles only from `/static/`
//! ([`assets`]), no inline script or style.
//!
//! # Layout
//! - [`reset`]: `/`, starting a reset, the flow's state page, choosing a factor.
//! - [`verify`]: the code and passkey pages, checking them, the passkey options.
//! - [`password`]: the new-password form, completing the reset, the done page.
//! - [`enroll`]: sign-in, sign-out, the list of factors, removing one.
//! - [`enroll_add`]: adding an authenticator app or a phone.
//! - [`enroll_passkey`]: adding a passkey or security key.
//! - [`lock`]: the "this wasn't me" link of a notice: a button, then the lock.
//! - [`console`]: `/admin`, the administrators' console: sign-in, the
//!   overview of recent decisions with server-drawn SVG charts, the policy
//!   editor.
//! - [`views`]: rendering helpers and the pages that only say something.
//! - [`problem`]: what a page needs to know about a service error.

pub mod assets;
pub mod console;
pub mod cookie;
pub mod csrf;
pub mod enroll;
pub mod enroll_add;
pub mod enroll_passkey;
pub mod lock;
pub mod password;
pub(crate) mod problem;
pub mod reset;
pub mod verify;
mod views;

use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The pages' Content-Security-Policy: no inline script or style, nothing from
/// elsewhere; `data:` images for a QR code that cannot be inlined.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The layer that puts [`CSP`] on every page response (the global layer only
/// adds its stricter API policy where none is set).
pub fn csp() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    )
}
