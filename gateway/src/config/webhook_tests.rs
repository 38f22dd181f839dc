//! `[[webhooks]]` and `[webhook_delivery]`: good configs, and every rejection
//! naming its key (with the list position).

use std::io::Write;
use std::time::Duration;

use figment::providers::Env;
use risk::Level;

use super::{Config, ConfigError, STANDARD_WEBHOOKS_SCHEDULE};
use crate::webhooks::sign::{self, WebhookSecret};
use crate::webhooks::{EventType, Subscription};

/// The Standard Webhooks reference secret (24 key bytes).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// 32 bytes of `a`.
const OTHER: &str = "whsec_YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    Config::load_with_env(Some(file.path()), Env::prefixed("RESETGATE_TEST_NONE__"))
}

/// The error text of a config that must be refused.
fn refused(text: &str) -> String {
    match load_text(text) {
        Ok(config) => panic!("accepted: {text}\n{config:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_refused(text: &str, prefix: &str) {
    let err = refused(text);
    assert!(
        err.starts_with(prefix),
        "want {prefix:?}…, got {err:?}\n{text}"
    );
}

fn hook(extra: &str) -> String {
    format!("[[webhooks]]\nurl = \"https://soc.example.com/hook\"\nsecret = \"{SECRET}\"\n{extra}")
}

fn secret_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "{text}").unwrap();
    file
}

#[test]
fn webhooks_default_to_none_and_the_standard_schedule() {
    let config = load_text("").unwrap();
    assert!(config.webhooks.is_empty());
    let d = &config.webhook_delivery;
    assert!(!d.allow_private_targets);
    assert_eq!(d.schedule, STANDARD_WEBHOOKS_SCHEDULE);
    assert_eq!(d.schedule.len(), 10);
    assert_eq!(d.schedule[2], Duration::from_mins(5));
    assert_eq!(d.timeout, Duration::from_secs(10));
    assert_eq!(d.concurrency, 4);
    assert_eq!(d.retention, Duration::from_hours(30 * 24));
    assert_refused(
        "[webhook_delivery]\nretention = \"5m\"\n",
        "webhook_delivery.retention: must be at least 1h",
    );
}

#[test]
fn webhook_minimal_entry_gets_defaults() {
    let config = load_text(&hook("")).unwrap();
    let [endpoint] = config.webhooks.as_slice() else {
        panic!("one endpoint")
    };
    assert_eq!(endpoint.url.as_str(), "https://soc.example.com/hook");
    assert_eq!(endpoint.events, vec![Subscription::All]);
    assert_eq!(endpoint.min_level, Level::Low);
    assert!(endpoint.enabled);
    assert_eq!(
        endpoint.effective_id(),
        default_id("https://soc.example.com/hook")
    );
    assert_eq!(endpoint.signing_secrets().len(), 1);
    assert_eq!(endpoint.signing_secrets()[0].expose(), SECRET);
}

#[test]
fn webhook_full_config_loads() {
    let text = format!(
        r#"
[webhook_delivery]
allow_private_targets = true
schedule = ["0s", "10s", "1m", "1h 30m", "7d"]
timeout = "30s"
concurrency = 16

[[webhooks]]
id = "splunk-prod"
url = "https://soc.example.com/hook"
secret = "{SECRET}"
previous_secret = "{OTHER}"
events = ["risk.high", "reset.denied", "attack.spray_detected"]
min_level = "high"

[[webhooks]]
url = "http://10.20.0.5:8088/services/collector"
secret = "{OTHER}"
events = ["*"]
min_level = "deny"
enabled = false
"#
    );
    let config = load_text(&text).unwrap();
    let d = &config.webhook_delivery;
    assert!(d.allow_private_targets);
    assert_eq!(
        d.schedule,
        [
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::from_mins(1),
            Duration::from_mins(90),
            Duration::from_hours(7 * 24),
        ]
    );
    assert_eq!(d.timeout, Duration::from_secs(30));
    assert_eq!(d.concurrency, 16);

    let [first, second] = config.webhooks.as_slice() else {
        panic!("two endpoints")
    };
    assert_eq!(first.effective_id(), "splunk-prod");
    assert_eq!(first.min_level, Level::High);
    assert!(Subscription::any_matches(
        &first.events,
        EventType::RiskHigh
    ));
    assert!(!Subscription::any_matches(
        &first.events,
        EventType::ResetCompleted
    ));
    // Rotation: both secrets sign, the current one first, and either verifies.
    let secrets = first.signing_secrets();
    assert_eq!(
        secrets
            .iter()
            .map(WebhookSecret::expose)
            .collect::<Vec<_>>(),
        [SECRET, OTHER]
    );
    let header = sign::sign(&secrets, "msg_1", 1_700_000_000, b"{}");
    assert_eq!(header.split(' ').count(), 2);

    // What each gets: type, then level (no assessment = always past min_level).
    assert!(first.wants(EventType::RiskHigh, Some(Level::High)));
    assert!(first.wants(EventType::ResetDenied, Some(Level::Deny)));
    assert!(!first.wants(EventType::RiskHigh, Some(Level::Medium)));
    assert!(!first.wants(EventType::FactorChanged, None));
    assert!(first.wants(EventType::SprayDetected, None));
    // Disabled: nothing.
    assert!(!second.wants(EventType::ResetDenied, Some(Level::Deny)));

    assert!(second.effective_id().starts_with("config-"));
    assert_eq!(second.min_level, Level::Deny);
    assert!(!second.enabled);
    assert_eq!(second.url.scheme(), "http");
}

#[test]
fn webhook_secrets_are_redacted_in_debug() {
    let file = secret_file(OTHER);
    let text = hook(&format!("previous_secret_file = {:?}\n", file.path()));
    let config = load_text(&text).unwrap();
    assert_eq!(config.webhooks[0].signing_secrets().len(), 2);
    let debug = format!("{config:?}");
    for secret in [SECRET, OTHER] {
        let key = secret.strip_prefix("whsec_").unwrap();
        assert!(!debug.contains(key), "{debug}");
    }
    assert!(debug.contains("REDACTED"), "{debug}");
}

#[test]
fn webhook_secret_from_file() {
    let file = secret_file(SECRET);
    let text = format!(
        "[[webhooks]]\nurl = \"https://soc.example.com/\"\nsecret_file = {:?}\n",
        file.path()
    );
    let config = load_text(&text).unwrap();
    assert_eq!(config.webhooks[0].signing_secrets()[0].expose(), SECRET);
}

#[test]
fn webhook_secret_rejections_name_the_key() {
    // Missing.
    assert_refused(
        "[[webhooks]]\nurl = \"https://soc.example.com/\"\n",
        "webhooks[0].secret: is required",
    );
    // Not a whsec_ value: the message never quotes it.
    let err = refused(&format!(
        "{}[[webhooks]]\nurl = \"https://b.example.com/\"\nsecret = \"hunter2-hunter2\"\n",
        hook("")
    ));
    assert!(err.starts_with("webhooks[1].secret: "), "{err}");
    assert!(err.contains("whsec_"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // Too short a key.
    assert_refused(
        &hook("previous_secret = \"whsec_c2hvcnQ=\"\n"),
        "webhooks[0].previous_secret: ",
    );
    // Both a value and a file.
    let file = secret_file(OTHER);
    assert_refused(
        &hook(&format!("secret_file = {:?}\n", file.path())),
        "webhooks[0].secret: set secret or secret_file, not both",
    );
    // A file that is not a secret, or is missing.
    let bad = secret_file("not-a-secret");
    let err = refused(&format!(
        "[[webhooks]]\nurl = \"https://soc.example.com/\"\nsecret_file = {:?}\n",
        bad.path()
    ));
    assert!(err.starts_with("webhooks[0].secret_file: "), "{err}");
    assert!(!err.contains("not-a-secret"), "{err}");
    assert_refused(
        &hook("previous_secret_file = \"/nonexistent/whsec\"\n"),
        "webhooks[0].previous_secret_file: cannot read /nonexistent/whsec",
    );
    // The same secret twice.
    assert_refused(
        &hook(&format!("previous_secret = \"{SECRET}\"\n")),
        "webhooks[0].previous_secret: is the same as secret",
    );
}

#[test]
fn webhook_url_rejections_name_the_key() {
    for (url, why) in [
        ("ftp://soc.example.com/", "scheme must be https"),
        ("https://u:p@soc.example.com/", "must not carry a user name"),
        ("http://soc.example.com/", "plain http is only allowed"),
        ("https://127.0.0.1/", "127.0.0.1 is loopback"),
        ("https://169.254.169.254/", "169.254.169.254 is link-local"),
        ("https://[fd00::1]/", "fd00::1 is unique local"),
        ("https://localhost:9000/", "localhost is loopback"),
        ("not a url", ""),
    ] {
        let text = format!(
            "{}[[webhooks]]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n",
            hook("")
        );
        assert_refused(&text, &format!("webhooks[1].url: {why}"));
    }
    // Even with private targets allowed: http never to a public address.
    let text = format!(
        "[webhook_delivery]\nallow_private_targets = true\n[[webhooks]]\nurl = \"http://8.8.8.8/\"\nsecret = \"{SECRET}\"\n"
    );
    assert_refused(&text, "webhooks[0].url: plain http to 8.8.8.8");
}

#[test]
fn webhook_private_targets_need_the_switch() {
    for url in [
        "https://127.0.0.1:9443/hook",
        "http://localhost:9000/hook",
        "http://10.0.0.5/hook",
        "https://[::1]/hook",
    ] {
        let entry = format!("[[webhooks]]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n");
        assert!(refused(&entry).starts_with("webhooks[0].url: "), "{url}");
        let allowed = format!("[webhook_delivery]\nallow_private_targets = true\n{entry}");
        let config = load_text(&allowed).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(config.webhooks[0].url.as_str(), url);
    }
}

#[test]
fn webhook_events_and_level_rejections_name_the_key_and_value() {
    let err = refused(&hook("events = [\"risk.high\", \"risk.severe\"]\n"));
    assert!(err.starts_with("webhooks[0].events[1]: "), "{err}");
    assert!(err.contains("\"risk.severe\""), "{err}");
    assert!(err.contains("reset.completed"), "the known names: {err}");
    assert_refused(
        &hook("events = []\n"),
        "webhooks[0].events: must list at least one",
    );
    let err = refused(&hook("min_level = \"severe\"\n"));
    assert!(err.starts_with("webhooks[0].min_level: "), "{err}");
    assert!(err.contains("severe"), "{err}");
    for (level, want) in [
        ("low", Level::Low),
        ("medium", Level::Medium),
        ("high", Level::High),
        ("deny", Level::Deny),
    ] {
        let config = load_text(&hook(&format!("min_level = \"{level}\"\n"))).unwrap();
        assert_eq!(config.webhooks[0].min_level, want);
    }
}

#[test]
fn webhook_id_and_unknown_key_rejections() {
    assert_refused(
        &hook("id = \"has space\"\n"),
        "webhooks[0].id: must be 1 to 64",
    );
    assert_refused(&hook("id = \"\"\n"), "webhooks[0].id: must be 1 to 64");
    assert_refused(
        &format!("{}{}", hook("id = \"soc\"\n"), hook("id = \"soc\"\n")),
        "webhooks[1].id: \"soc\" is already the id",
    );
    // An explicit id may not take the default id of another entry.
    assert_refused(
        &format!(
            "{}{}",
            hook(""),
            hook(&format!(
                "id = \"{}\"\n",
                default_id("https://soc.example.com/hook")
            ))
        ),
        &format!(
            "webhooks[1].id: \"{}\" is already the id",
            default_id("https://soc.example.com/hook")
        ),
    );
    assert_refused(
        &hook("min_levle = \"high\"\n"),
        "webhooks[0].min_levle: unknown field",
    );
    assert_refused(
        &format!("[[webhooks]]\nsecret = \"{SECRET}\"\n"),
        "webhooks[0]: missing field `url`",
    );
}

#[test]
fn webhook_delivery_rejections_name_the_key() {
    assert_refused(
        "[webhook_delivery]\nschedule = []\n",
        "webhook_delivery.schedule: must list at least one delay",
    );
    assert_refused(
        "[webhook_delivery]\nschedule = [\"0s\", \"5m\", \"8d\"]\n",
        "webhook_delivery.schedule[2]: must be at most 7d",
    );
    assert_refused(
        "[webhook_delivery]\nschedule = [\"0s\", \"soon\"]\n",
        "webhook_delivery.schedule[1]: ",
    );
    for timeout in ["0s", "500ms", "61s", "5m"] {
        assert_refused(
            &format!("[webhook_delivery]\ntimeout = \"{timeout}\"\n"),
            "webhook_delivery.timeout: must be between 1s and 60s",
        );
    }
    for ok in ["1s", "60s"] {
        load_text(&format!("[webhook_delivery]\ntimeout = \"{ok}\"\n")).unwrap();
    }
    for concurrency in [0, 65] {
        assert_refused(
            &format!("[webhook_delivery]\nconcurrency = {concurrency}\n"),
            "webhook_delivery.concurrency: must be 1 to 64",
        );
    }
    let err = refused("[webhook_delivery]\nallow_private = true\n");
    assert!(err.contains("allow_private"), "{err}");
}

/// figment layers the environment key by key, so a nested table key and a whole
/// list can be overridden; one element of a list cannot (see the module doc).
#[test]
fn webhook_env_overrides() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), hook("min_level = \"medium\"\n")).unwrap();
    #[allow(clippy::result_large_err)]
    figment::Jail::expect_with(|jail| {
        jail.set_env("RESETGATE__WEBHOOK_DELIVERY__ALLOW_PRIVATE_TARGETS", "true");
        jail.set_env("RESETGATE__WEBHOOK_DELIVERY__SCHEDULE", r#"["0s", "1m"]"#);
        let config = Config::load(Some(file.path())).expect("loads");
        assert!(config.webhook_delivery.allow_private_targets);
        assert_eq!(
            config.webhook_delivery.schedule,
            [Duration::ZERO, Duration::from_mins(1)]
        );
        assert_eq!(config.webhooks[0].min_level, Level::Medium);

        // The whole list, replacing the file's.
        jail.set_env(
            "RESETGATE__WEBHOOKS",
            format!(
                r#"[{{url="http://127.0.0.1:9000/hook", secret="{OTHER}", min_level="high"}}]"#
            ),
        );
        let config = Config::load(Some(file.path())).expect("loads");
        let [endpoint] = config.webhooks.as_slice() else {
            panic!("the env list replaces the file's")
        };
        assert_eq!(endpoint.url.as_str(), "http://127.0.0.1:9000/hook");
        assert_eq!(endpoint.min_level, Level::High);
        assert_eq!(endpoint.signing_secrets()[0].expose(), OTHER);
        Ok(())
    });
    #[allow(clippy::result_large_err)]
    figment::Jail::expect_with(|jail| {
        // One element: not supported by figment's merge (a table replaces the list).
        jail.set_env("RESETGATE__WEBHOOKS__0__MIN_LEVEL", "high");
        let err = Config::load(Some(file.path())).unwrap_err().to_string();
        assert!(err.starts_with("webhooks: "), "{err}");
        Ok(())
    });
}

/// The id an entry without one gets.
fn default_id(url: &str) -> String {
    format!(
        "config-{}",
        &crate::crypto::sha256_hex(url.as_bytes())[..12]
    )
}

#[test]
fn a_default_id_follows_the_url_not_the_position() {
    let a = "[[webhooks]]\nurl = \"https://a.example.com/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
    let b = "[[webhooks]]\nurl = \"https://b.example.com/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
    let ab = load_text(&format!("{a}{b}")).unwrap();
    let ba = load_text(&format!("{b}{a}")).unwrap();
    assert_eq!(ab.webhooks[0].effective_id(), ba.webhooks[1].effective_id());
    assert_eq!(
        ab.webhooks[0].effective_id(),
        default_id("https://a.example.com/hook")
    );
    // The same URL twice without ids is refused.
    let twice = load_text(&format!("{a}{a}")).unwrap_err().to_string();
    assert!(twice.contains("is already the id"), "{twice}");
}
