//! Rendering helpers, and the pages that only say something (refused, too
//! many tries, expired, a form that expired, unavailable).
//!
//! Every page template extends `base.html`, which reads `alerts` from the
//! page's struct: the `#error` (`role="alert"`) and `#notice`
//! (`role="status"`) regions are always present, hidden when empty, so the
//! passkey script can fill them too.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The page's error and notice texts.
#[derive(Debug, Default)]
pub struct Alerts {
    pub error: Option<String>,
    pub notice: Option<String>,
}

impl Alerts {
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            error: Some(text.into()),
            notice: None,
        }
    }

    pub fn notice(text: Option<&str>) -> Self {
        Self {
            error: None,
            notice: text.map(str::to_owned),
        }
    }
}

/// `t` rendered as `text/html; charset=utf-8` with `status`.
pub fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

/// 303 See Other to `to` (a fixed path of ours).
pub fn redirect(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `response` with these `Set-Cookie` headers added.
pub fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A link on a message page.
#[derive(Debug)]
pub struct Link {
    pub id: &'static str,
    pub href: &'static str,
    pub text: &'static str,
}

const START_AGAIN: Link = Link {
    id: "start-again",
    href: "/",
    text: "Start again",
};

/// A page that only says something.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub alerts: Alerts,
    pub title: &'static str,
    /// The `<section>`'s id: `refused`, `too-many`, `expired`, …
    pub section: &'static str,
    pub paragraphs: Vec<String>,
    pub link: Option<Link>,
}

impl Message {
    /// The reset cannot continue online. Never says why.
    pub fn refused(help_desk: &str) -> Self {
        Self {
            alerts: Alerts::error("We can't reset your password online."),
            title: "We can't reset your password here",
            section: "refused",
            paragraphs: vec![
                "To change your password, please get in touch with the help desk.".into(),
                help_desk.to_owned(),
            ],
            link: None,
        }
    }

    /// Too many tries (or codes sent); `retry_after` in seconds.
    pub fn too_many(sends: bool, retry_after: Option<u64>) -> Self {
        let first = if sends {
            "No more codes can be sent for now."
        } else {
            "There were too many tries."
        };
        Self {
            alerts: Alerts::error(first),
            title: "Too many tries",
            section: "too-many",
            paragraphs: vec![format!(
                "For your security this reset is paused. {}",
                retry_sentence(retry_after.unwrap_or(60))
            )],
            link: Some(START_AGAIN),
        }
    }

    /// The flow is over or unknown.
    pub fn expired() -> Self {
        Self {
            alerts: Alerts::error("This reset has expired."),
            title: "This reset has expired",
            section: "expired",
            paragraphs: vec!["Resets only last a few minutes. Start again to continue.".into()],
            link: Some(START_AGAIN),
        }
    }

    /// A POST failed the CSRF or origin check.
    pub fn form_expired() -> Self {
        Self {
            alerts: Alerts::error("This form expired; reload the page and try again."),
            title: "This form expired",
            section: "form-expired",
            paragraphs: vec!["Nothing was changed.".into()],
            link: None,
        }
    }

    /// The body could not be read as a form.
    pub fn bad_form() -> Self {
        Self {
            alerts: Alerts::error("The form could not be read; reload the page and try again."),
            title: "Something went wrong",
            section: "bad-form",
            paragraphs: vec!["Nothing was changed.".into()],
            link: None,
        }
    }

    /// A step failed for a reason the page cannot help with.
    pub fn failed() -> Self {
        Self {
            alerts: Alerts::error("That didn't work."),
            title: "That didn't work",
            section: "failed",
            paragraphs: vec!["Start again; if it keeps happening, contact the help desk.".into()],
            link: Some(START_AGAIN),
        }
    }

    /// Something on our side failed.
    pub fn unavailable() -> Self {
        Self {
            alerts: Alerts::error("Something went wrong on our side."),
            title: "Please try again",
            section: "unavailable",
            paragraphs: vec!["Wait a moment, then try again.".into()],
            link: Some(START_AGAIN),
        }
    }
}

/// "Try again in about N minutes." for a wait of `secs`.
pub fn retry_sentence(secs: u64) -> String {
    match secs.div_ceil(60) {
        0 | 1 => "Try again in a minute.".into(),
        m if m < 120 => format!("Try again in about {m} minutes."),
        m => format!("Try again in about {} hours.", m.div_ceil(60)),
    }
}

/// "4 tries left." / "1 try left."
pub fn tries_left(left: u64) -> String {
    format!("{left} {} left.", if left == 1 { "try" } else { "tries" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_sentences() {
        assert_eq!(retry_sentence(5), "Try again in a minute.");
        assert_eq!(retry_sentence(900), "Try again in about 15 minutes.");
        assert_eq!(retry_sentence(86_400), "Try again in about 24 hours.");
    }
}
