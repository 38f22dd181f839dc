//! The HTML pages, driven like a browser would: a cookie jar, forms with their
//! CSRF field, 303 redirects. Checks the headers every page must carry, the
//! CSRF and origin checks, and whole resets and enrolments through the pages.

mod browser;
mod email;
mod enroll;
mod reset;
mod security;
mod sms;
mod webauthn;
