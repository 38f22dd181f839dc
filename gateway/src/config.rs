//! Configuration: embedded defaults < TOML file < `RESETGATE__SECTION__KEY` environment.
//!
//! Every struct denies unknown fields, so a typo is an error that names the key.
//! Secrets are [`SecretString`]s (their `Debug` prints `[REDACTED]`) and may come
//! from a `*_file` key instead of the config itself; [`Config::load`] resolves them.
//! Layering is figment's; validation that needs more than types lives in
//! [`Config::validate`], which `check-config` and `serve` both run.
//!
//! Lists (`[[webhooks]]`, `webhook_delivery.schedule`) can be replaced from the
//! environment as a whole (`RESETGATE__WEBHOOKS='[{url="https://…", secret_file="…"}]'`),
//! but one element cannot be patched (`RESETGATE__WEBHOOKS__0__URL`): figment
//! merges that as a table over the file's array, which replaces the array and
//! then fails to load as a list.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use risk::Level;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

pub use ldap::{Ldap, LdapFlavor};

use crate::webhooks::sign::WebhookSecret;
use crate::webhooks::target;
use crate::webhooks::{EventType, Subscription};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML or an environment override is malformed, has an unknown key or a wrong type.
    #[error("{0}")]
    Parse(String),
    /// A value is well-formed but unusable (the message names the key).
    #[error("{key}: {problem}")]
    Invalid {
        /// The key, with list positions: `webhooks[1].url`.
        key: Cow<'static, str>,
        problem: String,
    },
}

fn invalid(key: impl Into<Cow<'static, str>>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// The whole configuration. See the README, "Configuration", for every key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub store: Store,
    pub secrets: Secrets,
    pub risk: Risk,
    pub reset: Reset,
    pub password: Password,
    pub sms: Sms,
    pub email: Email,
    pub directory: Directory,
    pub ldap: Ldap,
    pub geo: Geo,
    pub models: Models,
    /// `[[webhooks]]`: SOC endpoints from the config file (the admin API adds more).
    pub webhooks: Vec<WebhookEndpointConfig>,
    pub webhook_delivery: WebhookDelivery,
    pub log: Log,
}

/// `[log]`: how `serve` writes its log (to stderr; the level is `RESETGATE_LOG`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`,
    /// and the request's span with its `request_id`), for log pipelines.
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    pub public_url: url::Url,
    pub trusted_proxies: Vec<IpNet>,
    /// Requests per second allowed per client address on the public API (burst = 3x).
    pub rate_limit_per_second: u32,
    /// After SIGTERM/SIGINT: how long in-flight requests may take to finish
    /// before the process exits anyway (new connections are refused at once).
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: url::Url::parse("http://localhost:8080").expect("static URL"),
            trusted_proxies: Vec::new(),
            rate_limit_per_second: 20,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub ephemeral: String,
    pub durable: String,
    /// The in-memory ephemeral store's budget in MiB (`store.ephemeral = "memory"`):
    /// at it, new flows and counters are refused (503) until entries expire.
    pub memory_limit_mb: u32,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            ephemeral: "memory".into(),
            durable: "sqlite://var/resetgate.db".into(),
            memory_limit_mb: u32::try_from(crate::store::ephemeral::DEFAULT_LIMIT_BYTES >> 20)
                .unwrap_or(u32::MAX),
        }
    }
}

/// Which implementation a `store.*` URL names (by its scheme; the store
/// itself checks the rest when it connects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    RedisCluster,
    Sqlite,
    Postgres,
}

impl StoreKind {
    /// `store.ephemeral`: `memory`, `redis://`, `rediss://`, `redis+cluster://`,
    /// `redis+cluster+tls://`.
    pub fn ephemeral(url: &str) -> Option<Self> {
        if url == "memory" {
            Some(Self::Memory)
        } else if url.starts_with("redis+cluster://") || url.starts_with("redis+cluster+tls://") {
            Some(Self::RedisCluster)
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            Some(Self::Redis)
        } else {
            None
        }
    }

    /// `store.durable`: `sqlite:…`, `postgres://`, `postgresql://`.
    pub fn durable(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// The server key: encrypts TOTP seeds at rest and keys the HMACs (code hashes,
/// decoy hints). 32 random bytes, base64. Without `key`/`key_file` the gateway
/// creates `var/resetgate.key` (mode 0600) on first start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Secrets {
    #[serde(skip_serializing)]
    pub key: Option<SecretString>,
    pub key_file: PathBuf,
}

impl Default for Secrets {
    fn default() -> Self {
        Self {
            key: None,
            key_file: PathBuf::from("var/resetgate.key"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Risk {
    /// Risk policy file; `None` = the bundled `data/policy.toml`.
    pub policy: Option<PathBuf>,
    /// How often the policy file is checked for changes (hot reload).
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
    /// Bearer key for `POST /v1/risk/evaluate` (unset: the endpoint is off).
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    pub api_key_file: Option<PathBuf>,
}

impl Default for Risk {
    fn default() -> Self {
        Self {
            policy: None,
            reload_interval: Duration::from_secs(2),
            api_key: None,
            api_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reset {
    #[serde(with = "humantime_serde")]
    pub flow_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub factor_cooloff: Duration,
    /// How long a sent SMS/e-mail code stays valid.
    #[serde(with = "humantime_serde")]
    pub code_ttl: Duration,
    /// Wrong codes allowed per flow before the flow is locked.
    pub max_attempts_per_flow: u8,
    /// Wrong codes allowed per account, across flows, within `account_failure_window`.
    pub account_failure_limit: u32,
    #[serde(with = "humantime_serde")]
    pub account_failure_window: Duration,
    /// What a refused reset page tells the person to do instead (plain text,
    /// e.g. a phone number or an address; never the reason for the refusal).
    pub help_desk: String,
    /// How long the "this wasn't me" link of a notice stays usable.
    #[serde(with = "humantime_serde")]
    pub lock_link_ttl: Duration,
}

impl Default for Reset {
    fn default() -> Self {
        Self {
            flow_ttl: Duration::from_mins(10),
            factor_cooloff: Duration::from_hours(24),
            code_ttl: Duration::from_mins(5),
            max_attempts_per_flow: 5,
            account_failure_limit: 10,
            account_failure_window: Duration::from_mins(15),
            help_desk: "Contact your IT help desk.".into(),
            lock_link_ttl: Duration::from_hours(7 * 24),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Password {
    /// Minimum length in code points after NFKC (NIST SP 800-63B-4: 15 when the
    /// password is the only factor the directory uses).
    pub min_length: usize,
    /// Maximum length in code points (at least 64).
    pub max_length: usize,
    /// How many earlier passwords a new one may not repeat.
    pub history: usize,
    /// Operator-supplied breached-password list (HIBP Pwned Passwords SHA-1 format).
    pub breached_file: Option<PathBuf>,
}

impl Default for Password {
    fn default() -> Self {
        Self {
            min_length: 15,
            max_length: 128,
            history: 5,
            breached_file: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// Messages go to the dev outbox page (`/dev/outbox`), never to the log.
    #[default]
    Log,
    /// JSON `{"to", "message"}` `POSTed` to `sms.webhook_url`.
    Webhook,
    /// Twilio's Programmable Messaging API (`sms.twilio_*`).
    Twilio,
}

/// Where Twilio's API lives unless `sms.twilio_base_url` says otherwise.
pub const TWILIO_API: &str = "https://api.twilio.com";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sms {
    pub provider: SmsProvider,
    pub webhook_url: Option<url::Url>,
    /// Sent as `Authorization: Bearer …` to the webhook when set.
    #[serde(skip_serializing)]
    pub webhook_token: Option<SecretString>,
    pub webhook_token_file: Option<PathBuf>,
    /// Twilio's API origin (default [`TWILIO_API`]); messages go to
    /// `{base}/2010-04-01/Accounts/{account}/Messages.json`.
    pub twilio_base_url: Option<url::Url>,
    /// The Account SID (`AC…`): the path's account and the Basic-auth user.
    /// Also read as `twilio_account_sid` ([`ALIASES`]).
    pub twilio_account: Option<String>,
    /// The Auth Token (or an API key's secret): the Basic-auth password.
    /// Also read as `twilio_auth_token`.
    #[serde(skip_serializing)]
    pub twilio_token: Option<SecretString>,
    /// Also read as `twilio_auth_token_file`.
    pub twilio_token_file: Option<PathBuf>,
    /// The sender (`From`): an E.164 number or an alphanumeric sender id.
    pub twilio_from: Option<String>,
    /// A Messaging Service (`MG…`) that picks the sender, instead of or
    /// beside `twilio_from`.
    pub twilio_messaging_service_sid: Option<String>,
}

impl Sms {
    /// The Twilio API origin in use.
    pub fn twilio_base(&self) -> url::Url {
        self.twilio_base_url
            .clone()
            .unwrap_or_else(|| url::Url::parse(TWILIO_API).expect("a valid constant URL"))
    }

    fn validate_twilio(&self) -> Result<(), ConfigError> {
        const NEEDED: &str = "is required when sms.provider = \"twilio\"";
        let base = self.twilio_base();
        let local = match base.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let secure = base.scheme() == "https" || (base.scheme() == "http" && local);
        if !secure || base.cannot_be_a_base() {
            return Err(invalid(
                "sms.twilio_base_url",
                "must be an https:// URL (plain http:// only to loopback, for a local test receiver): the account's token is sent with every message",
            ));
        }
        if !base.username().is_empty() || base.password().is_some() || base.query().is_some() {
            return Err(invalid(
                "sms.twilio_base_url",
                "must hold no user:password@ and no query (the account and token have keys of their own)",
            ));
        }
        let account = self
            .twilio_account
            .as_deref()
            .ok_or_else(|| invalid("sms.twilio_account", NEEDED))?;
        if account.is_empty()
            || account.len() > 64
            || !account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "sms.twilio_account",
                "must be an Account SID (AC followed by 32 hex digits): letters, digits, - and _ only, at most 64",
            ));
        }
        match &self.twilio_token {
            None => return Err(invalid("sms.twilio_token", NEEDED)),
            Some(token) if token.expose_secret().trim().is_empty() => {
                return Err(invalid("sms.twilio_token", "must not be empty"));
            }
            Some(_) => {}
        }
        if let Some(from) = &self.twilio_from {
            let alphanumeric = (1..=11).contains(&from.len())
                && from.bytes().any(|b| b.is_ascii_alphabetic())
                && from
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
            if !crate::factors::sms::is_e164(from) && !alphanumeric {
                return Err(invalid(
                    "sms.twilio_from",
                    "must be an E.164 number (+ and 8 to 15 digits) or an alphanumeric sender id (at most 11 letters, digits, spaces or -, with a letter)",
                ));
            }
        }
        if self
            .twilio_messaging_service_sid
            .as_deref()
            .is_some_and(|sid| sid.is_empty() || !sid.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(invalid(
                "sms.twilio_messaging_service_sid",
                "must be a Messaging Service SID (MG followed by 32 hex digits)",
            ));
        }
        Ok(())
    }
}

/// `[email]`: "was this you?" notices by e-mail, and reset codes (the `email`
/// factor, offered only when `smtp_url` is set).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Email {
    /// The SMTP relay, in the forms `lettre` reads: `smtp://HOST[:PORT]`
    /// (plain), `smtp://HOST:587?tls=required` (STARTTLS), `smtps://HOST[:465]`
    /// (implicit TLS); `user:password@` for relays that need a login. Unset:
    /// notices are logged as not sent and e-mail codes are not offered. Never
    /// serialised (it may hold a password).
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// The `From` mailbox of notices and codes; its domain is also the domain
    /// of decoy accounts' masked e-mail hints.
    pub from: String,
}

impl Default for Email {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "resetgate <no-reply@localhost>".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    #[default]
    Builtin,
    /// OpenLDAP or Active Directory: `[ldap]`.
    Ldap,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Directory {
    pub kind: DirectoryKind,
    /// argon2id hashes and verifications (built-in directory passwords, admin
    /// sign-in) run at once, each on a blocking thread with 19 MiB; the rest
    /// queue. `0` = automatic: one fewer than the CPUs, at least 1, so a burst
    /// of completes leaves a core to the request workers.
    pub hash_concurrency: usize,
}

/// `GeoIP` databases (`MaxMind` DB format). `None` = the bundled sample built from
/// `data/geo/sample.csv`, which only knows documentation address ranges.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Geo {
    /// `GeoIP2`/`GeoLite2` City (or Country) database.
    pub city_db: Option<PathBuf>,
    /// `GeoLite2` ASN (or `GeoIP2` ISP) database.
    pub asn_db: Option<PathBuf>,
    /// `GeoIP2` Anonymous IP database.
    pub anonymous_db: Option<PathBuf>,
    /// How often the configured files' modification times are polled; a changed
    /// file is reopened and swapped in. `0s` disables reloading.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
}

impl Default for Geo {
    fn default() -> Self {
        Self {
            city_db: None,
            asn_db: None,
            anonymous_db: None,
            reload_interval: Duration::from_secs(10),
        }
    }
}

/// The anomaly model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Models {
    /// Trained model file (`resetgate train`); `None` = the default model from
    /// `models/`, compiled in. Hot-reloaded like `risk.policy` (checked every
    /// `risk.reload_interval`); a file that does not load is refused and the
    /// live model stays.
    pub anomaly: Option<PathBuf>,
}

/// One `[[webhooks]]` entry: a SOC endpoint that receives signed alert events.
/// `Debug` shows no secret ([`WebhookSecret`] redacts itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointConfig {
    /// Stable name in the admin API and the delivery log; unset =
    /// `config-<12 hex digits of the URL's SHA-256>`.
    #[serde(default)]
    pub id: Option<String>,
    /// `https://…`; `http://` only with `webhook_delivery.allow_private_targets`
    /// and then only to private addresses ([`target`]).
    pub url: url::Url,
    /// `whsec_` + base64 of 24..=64 key bytes.
    #[serde(default, skip_serializing)]
    pub secret: Option<WebhookSecret>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// A secret being rotated out: while set, every delivery carries a signature
    /// by each secret, so receivers on either one verify.
    #[serde(default, skip_serializing)]
    pub previous_secret: Option<WebhookSecret>,
    #[serde(default)]
    pub previous_secret_file: Option<PathBuf>,
    /// Event types wanted, or `"*"` for all.
    #[serde(default = "all_events")]
    pub events: Vec<Subscription>,
    /// Only events whose assessment is at least this level (events without an
    /// assessment, such as `factor.changed`, are always sent).
    #[serde(default = "lowest_level")]
    pub min_level: Level,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn all_events() -> Vec<Subscription> {
    vec![Subscription::All]
}

fn lowest_level() -> Level {
    Level::Low
}

fn enabled_by_default() -> bool {
    true
}

impl WebhookEndpointConfig {
    /// `id`, or `config-` and 12 hex digits of the URL's SHA-256: an entry
    /// keeps its id (and its deliveries their receiver) when entries are
    /// reordered, and a changed URL is a new endpoint.
    pub fn effective_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            let digest = crate::crypto::sha256_hex(self.url.as_str().as_bytes());
            format!("config-{}", &digest[..12])
        })
    }

    /// Whether this endpoint gets an event of type `kind` whose assessment is at
    /// `level` ([`crate::webhooks::Event::level`]; `None` = no assessment, always
    /// past `min_level`).
    pub fn wants(&self, kind: EventType, level: Option<Level>) -> bool {
        self.enabled
            && Subscription::any_matches(&self.events, kind)
            && level.is_none_or(|level| level >= self.min_level)
    }

    /// The secrets to sign with, current first (two during a rotation).
    pub fn signing_secrets(&self) -> Vec<WebhookSecret> {
        self.secret
            .iter()
            .chain(self.previous_secret.iter())
            .cloned()
            .collect()
    }
}

/// `[webhook_delivery]`: how the outbox delivers, for every endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookDelivery {
    /// Allow endpoints on loopback/private/link-local addresses (tests, an
    /// on-premises SOC), and plain `http` to such addresses.
    pub allow_private_targets: bool,
    /// One entry per attempt: how long after the event (first entry) or after
    /// the previous failed attempt (the others) to try. Its length is the number
    /// of attempts; after the last the delivery is exhausted (and can be redelivered).
    #[serde(with = "duration_list")]
    pub schedule: Vec<Duration>,
    /// Total time one attempt may take (connect, TLS, request, response).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts in flight at once per endpoint.
    pub concurrency: u32,
    /// How long delivered and dead deliveries (with their attempts) are
    /// kept for `GET …/deliveries`; pending ones are kept until they end.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

/// The Standard Webhooks retry schedule: immediately, 5s, 5m, 30m, 2h, 5h, 10h,
/// 14h, 20h, 24h (about 3 days and 3 hours in all).
pub const STANDARD_WEBHOOKS_SCHEDULE: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_mins(5),
    Duration::from_mins(30),
    Duration::from_hours(2),
    Duration::from_hours(5),
    Duration::from_hours(10),
    Duration::from_hours(14),
    Duration::from_hours(20),
    Duration::from_hours(24),
];

impl Default for WebhookDelivery {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            schedule: STANDARD_WEBHOOKS_SCHEDULE.to_vec(),
            timeout: Duration::from_secs(10),
            concurrency: 4,
            retention: Duration::from_hours(30 * 24),
        }
    }
}

/// A list of humantime durations (`["0s", "5m"]`); `humantime_serde` does one.
mod duration_list {
    use std::time::Duration;

    use humantime_serde::Serde;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(list: &[Duration], serializer: S) -> Result<S::Ok, S::Error> {
        list.iter()
            .map(Serde::from)
            .collect::<Vec<Serde<&Duration>>>()
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        Ok(Vec::<Serde<Duration>>::deserialize(deserializer)?
            .into_iter()
            .map(Serde::into_inner)
            .collect())
    }
}

impl Config {
    /// Layer embedded defaults, the optional TOML file and the environment, then
    /// resolve `*_file` secrets and validate.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, Env::prefixed("RESETGATE__").split("__"))
    }

    fn load_with_env(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let env = Environment(env);
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Parse(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Canonical(Toml::file_exact(path)));
        }
        let mut config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(&e)))?;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.risk.api_key_file {
            self.risk.api_key = Some(read_secret_file("risk.api_key_file", path)?);
        }
        self.ldap.resolve_secret_files()?;
        if let Some(path) = &self.sms.webhook_token_file {
            self.sms.webhook_token = Some(read_secret_file("sms.webhook_token_file", path)?);
        }
        if let Some(path) = &self.sms.twilio_token_file {
            if self.sms.twilio_token.is_some() {
                return Err(invalid(
                    "sms.twilio_token",
                    "set twilio_token or twilio_token_file, not both",
                ));
            }
            self.sms.twilio_token = Some(read_secret_file("sms.twilio_token_file", path)?);
        }
        for (i, hook) in self.webhooks.iter_mut().enumerate() {
            for (name, file, slot) in [
                ("secret", &hook.secret_file, &mut hook.secret),
                (
                    "previous_secret",
                    &hook.previous_secret_file,
                    &mut hook.previous_secret,
                ),
            ] {
                let Some(path) = file else { continue };
                if slot.is_some() {
                    return Err(invalid(
                        format!("webhooks[{i}].{name}"),
                        format!("set {name} or {name}_file, not both"),
                    ));
                }
                let key = format!("webhooks[{i}].{name}_file");
                let text = read_secret_file(key.clone(), path)?;
                let secret = WebhookSecret::parse(text.expose_secret())
                    .map_err(|e| invalid(key, format!("{}: {e}", path.display())))?;
                *slot = Some(secret);
            }
        }
        Ok(())
    }

    /// Checks that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.server.public_url;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("server.public_url", "must be an http(s) origin"));
        }
        if url.domain().is_none() {
            return Err(invalid(
                "server.public_url",
                "must name a host (e.g. localhost or sspr.example.com), not an IP address: \
                 its host is the WebAuthn relying party id",
            ));
        }
        if self.server.rate_limit_per_second == 0 {
            return Err(invalid(
                "server.rate_limit_per_second",
                "must be at least 1",
            ));
        }
        if !(16..=1_048_576).contains(&self.store.memory_limit_mb) {
            return Err(invalid(
                "store.memory_limit_mb",
                "must be between 16 and 1048576 (MiB)",
            ));
        }
        if StoreKind::ephemeral(&self.store.ephemeral).is_none() {
            return Err(invalid(
                "store.ephemeral",
                "unsupported store: use \"memory\", redis://HOST:PORT[/DB], rediss://… or \
                 redis+cluster://HOST:PORT,HOST:PORT,…",
            ));
        }
        if StoreKind::durable(&self.store.durable).is_none() {
            return Err(invalid(
                "store.durable",
                "unsupported store: use sqlite://PATH or postgres://USER@HOST:PORT/DB",
            ));
        }
        self.validate_reset()?;
        self.validate_geo()?;
        if self.directory.hash_concurrency > 256 {
            return Err(invalid(
                "directory.hash_concurrency",
                "must be 0 (automatic: CPUs - 1, at least 1) to 256",
            ));
        }
        if self.directory.kind == DirectoryKind::Ldap {
            self.ldap.validate()?;
        }
        if self.password.max_length < 64 {
            return Err(invalid("password.max_length", "must be at least 64"));
        }
        if self.password.min_length == 0 || self.password.min_length > self.password.max_length {
            return Err(invalid(
                "password.min_length",
                "must be between 1 and password.max_length",
            ));
        }
        if self.sms.provider == SmsProvider::Webhook && self.sms.webhook_url.is_none() {
            return Err(invalid(
                "sms.webhook_url",
                "is required when sms.provider = \"webhook\"",
            ));
        }
        if self.sms.provider == SmsProvider::Twilio {
            self.sms.validate_twilio()?;
        }
        self.validate_email()?;
        self.validate_webhook_delivery()?;
        self.validate_webhooks()?;
        Ok(())
    }

    fn validate_email(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.email.smtp_url {
            crate::email::transport(url.expose_secret())
                .map_err(|problem| invalid("email.smtp_url", problem))?;
        }
        crate::email::mailbox(&self.email.from)
            .map_err(|problem| invalid("email.from", problem))?;
        Ok(())
    }

    fn validate_webhook_delivery(&self) -> Result<(), ConfigError> {
        let d = &self.webhook_delivery;
        if d.schedule.is_empty() {
            return Err(invalid(
                "webhook_delivery.schedule",
                "must list at least one delay (the first attempt's, normally \"0s\")",
            ));
        }
        if let Some(i) = d.schedule.iter().position(|&delay| delay > MAX_RETRY_DELAY) {
            return Err(invalid(
                format!("webhook_delivery.schedule[{i}]"),
                "must be at most 7d",
            ));
        }
        if d.timeout < Duration::from_secs(1) || d.timeout > Duration::from_mins(1) {
            return Err(invalid(
                "webhook_delivery.timeout",
                "must be between 1s and 60s",
            ));
        }
        if !(1..=64).contains(&d.concurrency) {
            return Err(invalid("webhook_delivery.concurrency", "must be 1 to 64"));
        }
        if d.retention < Duration::from_hours(1) {
            return Err(invalid("webhook_delivery.retention", "must be at least 1h"));
        }
        Ok(())
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let allow_private = self.webhook_delivery.allow_private_targets;
        let mut ids = HashSet::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = |field: &str| format!("webhooks[{i}].{field}");
            target::check_url(&hook.url, allow_private)
                .map_err(|e| invalid(key("url"), e.to_string()))?;
            match (&hook.secret, &hook.previous_secret) {
                (None, _) if hook.secret_file.is_none() => {
                    return Err(invalid(
                        key("secret"),
                        "is required: a `whsec_…` value, or secret_file",
                    ));
                }
                (Some(current), Some(previous))
                    if zeroize::Zeroizing::new(current.expose())
                        == zeroize::Zeroizing::new(previous.expose()) =>
                {
                    return Err(invalid(
                        key("previous_secret"),
                        "is the same as secret (leave it unset, or set the old one)",
                    ));
                }
                _ => {}
            }
            if hook.events.is_empty() {
                return Err(invalid(
                    key("events"),
                    "must list at least one event type or \"*\" (set enabled = false to pause)",
                ));
            }
            if let Some(id) = &hook.id
                && !valid_endpoint_id(id)
            {
                return Err(invalid(
                    key("id"),
                    "must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' or '.'",
                ));
            }
            let id = hook.effective_id();
            if !ids.insert(id.clone()) {
                return Err(invalid(
                    key("id"),
                    format!("{id:?} is already the id of an earlier endpoint"),
                ));
            }
        }
        Ok(())
    }

    fn validate_reset(&self) -> Result<(), ConfigError> {
        let r = &self.reset;
        if r.flow_ttl < Duration::from_mins(1) || r.flow_ttl > Duration::from_hours(1) {
            return Err(invalid("reset.flow_ttl", "must be between 1m and 1h"));
        }
        if r.code_ttl < Duration::from_secs(30) || r.code_ttl > r.flow_ttl {
            return Err(invalid(
                "reset.code_ttl",
                "must be between 30s and reset.flow_ttl",
            ));
        }
        if r.factor_cooloff > Duration::from_hours(30 * 24) {
            return Err(invalid("reset.factor_cooloff", "must be at most 30d"));
        }
        if r.lock_link_ttl < Duration::from_hours(1)
            || r.lock_link_ttl > Duration::from_hours(30 * 24)
        {
            return Err(invalid("reset.lock_link_ttl", "must be between 1h and 30d"));
        }
        if r.max_attempts_per_flow == 0 || r.max_attempts_per_flow > 10 {
            return Err(invalid("reset.max_attempts_per_flow", "must be 1 to 10"));
        }
        if r.account_failure_limit == 0 {
            return Err(invalid("reset.account_failure_limit", "must be at least 1"));
        }
        if r.account_failure_window < Duration::from_mins(1)
            || r.account_failure_window > Duration::from_hours(24)
        {
            return Err(invalid(
                "reset.account_failure_window",
                "must be between 1m and 24h (longer would let a stranger lock the owner out)",
            ));
        }
        if r.help_desk.trim().is_empty() || r.help_desk.chars().count() > 500 {
            return Err(invalid(
                "reset.help_desk",
                "must be a sentence of 1 to 500 characters",
            ));
        }
        Ok(())
    }

    fn validate_geo(&self) -> Result<(), ConfigError> {
        let g = &self.geo;
        for (key, path) in [
            ("geo.city_db", &g.city_db),
            ("geo.asn_db", &g.asn_db),
            ("geo.anonymous_db", &g.anonymous_db),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                return Err(invalid(
                    key,
                    format!("{} does not exist or is not a file", path.display()),
                ));
            }
        }
        if !g.reload_interval.is_zero() && g.reload_interval < Duration::from_secs(1) {
            return Err(invalid(
                "geo.reload_interval",
                "must be at least 1s (or 0s to disable reloading)",
            ));
        }
        Ok(())
    }

    /// The `SQLite` path of `store.durable`, or `None` for an in-memory database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.store.durable.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let rest = rest.split('?').next().unwrap_or(rest);
        (rest != ":memory:" && !rest.is_empty()).then(|| PathBuf::from(rest))
    }
}

/// The longest delay `webhook_delivery.schedule` takes.
const MAX_RETRY_DELAY: Duration = Duration::from_hours(7 * 24);

/// An endpoint id goes into admin API paths as is.
fn valid_endpoint_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn read_secret_file(
    key: impl Into<Cow<'static, str>>,
    path: &Path,
) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))?;
    Ok(SecretString::from(text.trim_end_matches(['\r', '\n'])))
}

/// Keys whose values are free text: read from the environment as written.
/// (figment reads a variable as TOML-ish data, so a token `0123` would be the
/// number 123 and a sender `+15550100042` an integer, which these keys then
/// refuse, quoting the value; a secret of digits would be quoted in the
/// error.) Every other key is read as figment reads it: numbers, booleans,
/// lists and tables.
const TEXT_KEYS: &[&str] = &[
    "secrets.key",
    "risk.api_key",
    "reset.help_desk",
    "sms.webhook_token",
    "sms.twilio_account",
    "sms.twilio_account_sid",
    "sms.twilio_token",
    "sms.twilio_auth_token",
    "sms.twilio_from",
    "sms.twilio_messaging_service_sid",
    "email.from",
    "ldap.bind_dn",
    "ldap.bind_password",
    "ldap.base_dn",
    "ldap.user_filter",
    "ldap.email_attribute",
    "ldap.mobile_attribute",
    "ldap.name_attribute",
    "ldap.password_policy_dn",
];

/// Keys also read under another name (Twilio's own): (section, alias,
/// key). Each provider's data is renamed before the layers merge, so an
/// environment variable under one name overrides a file's under the other.
const ALIASES: &[(&str, &str, &str)] = &[
    ("sms", "twilio_account_sid", "twilio_account"),
    ("sms", "twilio_auth_token", "twilio_token"),
    ("sms", "twilio_auth_token_file", "twilio_token_file"),
];

type Layers = figment::value::Map<figment::Profile, figment::value::Dict>;

/// `data` with [`ALIASES`] under their keys' names (the key itself wins
/// when a layer has both).
fn canonical(mut data: Layers) -> Layers {
    for dict in data.values_mut() {
        for (section, alias, key) in ALIASES {
            if let Some(figment::value::Value::Dict(_, table)) = dict.get_mut(*section)
                && let Some(value) = table.remove(*alias)
            {
                table.entry((*key).to_owned()).or_insert(value);
            }
        }
    }
    data
}

/// A provider whose data is read with [`ALIASES`] renamed.
struct Canonical<P>(P);

impl<P: figment::Provider> figment::Provider for Canonical<P> {
    fn metadata(&self) -> figment::Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Layers, figment::Error> {
        self.0.data().map(canonical)
    }
}

/// figment's `Env` provider, except for [`TEXT_KEYS`], whose variables are
/// taken as the text they hold (a value in double quotes, figment's way of
/// saying "text", is read as figment reads it), with [`ALIASES`] renamed.
struct Environment(Env);

impl figment::Provider for Environment {
    fn metadata(&self) -> figment::Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Layers, figment::Error> {
        let mut data = self.0.data()?;
        for (key, text) in self.0.iter() {
            if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
                continue;
            }
            let Some((section, name)) = key
                .as_str()
                .split_once('.')
                .filter(|_| TEXT_KEYS.contains(&key.as_str()))
            else {
                continue;
            };
            for dict in data.values_mut() {
                if let Some(figment::value::Value::Dict(_, table)) = dict.get_mut(section) {
                    table.insert(name.to_owned(), text.clone().into());
                }
            }
        }
        Ok(canonical(data))
    }
}

/// figment's message plus the key path it failed on, without the profile prefix.
fn describe_figment_error(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|e| {
            // `webhooks.1.url` -> `webhooks[1].url`
            let mut key = String::new();
            for part in &e.path {
                if part.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty() {
                    key.push('[');
                    key.push_str(part);
                    key.push(']');
                } else {
                    if !key.is_empty() {
                        key.push('.');
                    }
                    key.push_str(part);
                }
            }
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (in {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("{key}: {}{source}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        Config::load_with_env(Some(file.path()), Env::prefixed("RESETGATE_TEST_NONE__"))
    }

    #[test]
    fn defaults_are_valid() {
        let config = load_text("").unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.reset.flow_ttl, Duration::from_mins(10));
        assert_eq!(config.reset.factor_cooloff, Duration::from_hours(24));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load_text("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("lisen"), "{text}");
    }

    #[test]
    fn invalid_value_names_key() {
        let err = load_text("[password]\nmax_length = 20\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "password.max_length: must be at least 64",
            "{err}"
        );
    }

    #[test]
    fn hash_concurrency_is_checked() {
        assert_eq!(
            load_text("").unwrap().directory.hash_concurrency,
            0,
            "automatic by default"
        );
        let config = load_text("[directory]\nhash_concurrency = 3\n").expect("loads");
        assert_eq!(config.directory.hash_concurrency, 3);
        let err = load_text("[directory]\nhash_concurrency = 1000\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "directory.hash_concurrency: must be 0 (automatic: CPUs - 1, at least 1) to 256"
        );
    }

    #[test]
    fn public_url_must_name_a_host() {
        let err = load_text("[server]\npublic_url = \"http://127.0.0.1:8080\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("server.public_url: must name a host"),
            "{err}"
        );
        let ok = load_text("[server]\npublic_url = \"https://sspr.example.com\"\n").unwrap();
        assert_eq!(ok.server.public_url.host_str(), Some("sspr.example.com"));
    }

    #[test]
    fn secret_from_file_and_redacted_debug() {
        let mut token = tempfile::NamedTempFile::new().unwrap();
        writeln!(token, "s3cr3t-token").unwrap();
        let text = format!(
            "[sms]\nprovider = \"webhook\"\nwebhook_url = \"http://127.0.0.1:9/sms\"\nwebhook_token_file = {:?}\n",
            token.path()
        );
        let config = load_text(&text).unwrap();
        let secret = config.sms.webhook_token.as_ref().unwrap();
        assert_eq!(secret.expose_secret(), "s3cr3t-token");
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }

    const TWILIO: &str = "[sms]\nprovider = \"twilio\"\n";

    #[test]
    fn twilio_keys_are_read_under_both_names() {
        let config = load_text(&format!(
            "{TWILIO}twilio_account = \"AC0123\"\ntwilio_token = \"tok-1\"\ntwilio_from = \"+15005550006\"\n"
        ))
        .unwrap();
        assert_eq!(config.sms.provider, SmsProvider::Twilio);
        assert_eq!(config.sms.twilio_base().as_str(), "https://api.twilio.com/");
        assert_eq!(config.sms.twilio_account.as_deref(), Some("AC0123"));
        assert!(!format!("{config:?}").contains("tok-1"));
        // Twilio's own names for the same keys.
        let mut token = tempfile::NamedTempFile::new().unwrap();
        writeln!(token, "tok-2").unwrap();
        let config = load_text(&format!(
            "{TWILIO}twilio_base_url = \"http://127.0.0.1:9\"\ntwilio_account_sid = \"AC0123\"\n\
             twilio_auth_token_file = {:?}\ntwilio_messaging_service_sid = \"MG0123\"\n",
            token.path()
        ))
        .unwrap();
        assert_eq!(config.sms.twilio_account.as_deref(), Some("AC0123"));
        assert_eq!(
            config.sms.twilio_token.as_ref().unwrap().expose_secret(),
            "tok-2"
        );
    }

    #[test]
    fn twilio_without_what_it_needs_is_refused_by_key() {
        let refused = |extra: &str| {
            load_text(&format!("{TWILIO}{extra}"))
                .unwrap_err()
                .to_string()
        };
        let text = refused("twilio_token = \"t\"\n");
        assert!(text.contains("sms.twilio_account"), "{text}");
        let text = refused("twilio_account = \"AC1\"\n");
        assert!(text.contains("sms.twilio_token"), "{text}");
        let text = refused("twilio_account = \"AC1/../x\"\ntwilio_token = \"t\"\n");
        assert!(text.contains("sms.twilio_account"), "{text}");
        // The token would cross the network in the clear.
        let text = refused(
            "twilio_base_url = \"http://sms.example.com\"\ntwilio_account = \"AC1\"\ntwilio_token = \"t\"\n",
        );
        assert!(text.contains("sms.twilio_base_url"), "{text}");
        let text = refused(
            "twilio_account = \"AC1\"\ntwilio_token = \"t\"\ntwilio_from = \"not a sender!\"\n",
        );
        assert!(text.contains("sms.twilio_from"), "{text}");
        assert!(!text.contains("= \"t\""), "{text}");
    }

    #[test]
    fn env_overrides_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"[reset]\nflow_ttl = \"5m\"\n").unwrap();
        // figment's Jail API fixes the closure's error type.
        #[allow(clippy::result_large_err)]
        figment::Jail::expect_with(|jail| {
            jail.set_env("RESETGATE__RESET__FLOW_TTL", "15m");
            let config = Config::load(Some(file.path())).expect("loads");
            assert_eq!(config.reset.flow_ttl, Duration::from_mins(15));
            Ok(())
        });
    }

    /// Free-text keys take the variable's text as written, digits, `+` and
    /// leading zeros included; other keys still read numbers and booleans.
    #[test]
    fn text_keys_keep_the_environment_s_text() {
        #[allow(clippy::result_large_err)]
        figment::Jail::expect_with(|jail| {
            jail.set_env("RESETGATE__SMS__PROVIDER", "twilio");
            jail.set_env("RESETGATE__SMS__TWILIO_ACCOUNT_SID", "AC0123");
            jail.set_env("RESETGATE__SMS__TWILIO_TOKEN", "0123");
            jail.set_env("RESETGATE__SMS__TWILIO_FROM", "+15005550006");
            jail.set_env("RESETGATE__RISK__API_KEY", "20250101");
            jail.set_env("RESETGATE__RESET__HELP_DESK", "5550100");
            jail.set_env("RESETGATE__SERVER__RATE_LIMIT_PER_SECOND", "7");
            let config = Config::load(None).expect("loads");
            assert_eq!(
                config.sms.twilio_token.as_ref().unwrap().expose_secret(),
                "0123"
            );
            assert_eq!(config.sms.twilio_from.as_deref(), Some("+15005550006"));
            assert_eq!(
                config.risk.api_key.as_ref().unwrap().expose_secret(),
                "20250101"
            );
            assert_eq!(config.reset.help_desk, "5550100");
            assert_eq!(config.server.rate_limit_per_second, 7);
            Ok(())
        });
    }

    /// A key written under Twilio's name in the file is overridden by the
    /// environment under ours, and a value in double quotes (figment's way
    /// of writing text) is the text inside them.
    #[test]
    fn aliases_and_quoted_values_from_the_environment() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(
            b"[sms]\nprovider = \"twilio\"\ntwilio_account_sid = \"AC0123\"\ntwilio_auth_token = \"t\"\n",
        )
        .unwrap();
        #[allow(clippy::result_large_err)]
        figment::Jail::expect_with(|jail| {
            jail.set_env("RESETGATE__SMS__TWILIO_ACCOUNT", "AC0999");
            jail.set_env("RESETGATE__RISK__API_KEY", "\"0456\"");
            let config = Config::load(Some(file.path())).expect("loads");
            assert_eq!(config.sms.twilio_account.as_deref(), Some("AC0999"));
            assert_eq!(
                config.sms.twilio_token.as_ref().unwrap().expose_secret(),
                "t"
            );
            assert_eq!(
                config.risk.api_key.as_ref().unwrap().expose_secret(),
                "0456"
            );
            Ok(())
        });
    }

    #[test]
    fn help_desk_has_a_default_and_can_be_set() {
        assert_eq!(
            load_text("").unwrap().reset.help_desk,
            "Contact your IT help desk."
        );
        let config = load_text("[reset]\nhelp_desk = \"Call +1 555 0100, 8am-6pm.\"\n").unwrap();
        assert_eq!(config.reset.help_desk, "Call +1 555 0100, 8am-6pm.");
        let err = load_text("[reset]\nhelp_desk = \" \"\n").unwrap_err();
        assert!(err.to_string().starts_with("reset.help_desk:"), "{err}");
    }

    #[test]
    fn email_keys_are_accepted_and_checked() {
        let config = load_text("").unwrap();
        assert!(config.email.smtp_url.is_none());
        assert_eq!(config.email.from, "resetgate <no-reply@localhost>");
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.org:587?tls=required",
            "smtps://relay:pa%20ss@mail.example.org",
        ] {
            let text = format!("[email]\nsmtp_url = {url:?}\nfrom = \"IT <it@example.org>\"\n");
            let config = load_text(&text).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(config.email.smtp_url.unwrap().expose_secret(), url);
            assert!(!format!("{:?}", load_text(&text).unwrap()).contains("pa%20ss"));
        }
        for url in [
            "http://mail.example.org",
            "smtp+starttls://mail.example.org",
            "smtp://",
            "not a url",
        ] {
            let err = load_text(&format!("[email]\nsmtp_url = {url:?}\n")).unwrap_err();
            assert!(
                err.to_string().starts_with("email.smtp_url: "),
                "{url}: {err}"
            );
            assert!(
                !err.to_string().contains(url) || !url.contains('@'),
                "{err}"
            );
        }
        let err = load_text("[email]\nfrom = \"not a mailbox\"\n").unwrap_err();
        assert!(err.to_string().starts_with("email.from: "), "{err}");
        let err = load_text("[email]\ncode_ttl = \"5m\"\n").unwrap_err();
        assert!(err.to_string().contains("code_ttl"), "{err}");
    }

    #[test]
    fn sqlite_path_forms() {
        let mut config = Config::default();
        assert_eq!(
            config.sqlite_path(),
            Some(PathBuf::from("var/resetgate.db"))
        );
        config.store.durable = "sqlite:///tmp/x/a.db?mode=rwc".into();
        assert_eq!(config.sqlite_path(), Some(PathBuf::from("/tmp/x/a.db")));
        config.store.durable = "sqlite::memory:".into();
        assert_eq!(config.sqlite_path(), None);
    }

    #[test]
    fn store_urls_name_their_implementation_and_others_are_refused() {
        for (ephemeral, durable) in [
            ("memory", "sqlite://var/x.db"),
            (
                "redis://127.0.0.1:6379/0",
                "postgres://rg@db:5432/resetgate",
            ),
            ("rediss://cache:6380", "postgresql://rg:secret@db/resetgate"),
            ("redis+cluster://a:7000,b:7001,c:7002", "sqlite::memory:"),
        ] {
            let text = format!("[store]\nephemeral = {ephemeral:?}\ndurable = {durable:?}\n");
            let config = load_text(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(config.store.ephemeral, ephemeral);
        }
        assert_eq!(
            StoreKind::ephemeral("redis+cluster://a:1,b:2"),
            Some(StoreKind::RedisCluster)
        );
        assert_eq!(
            StoreKind::durable("postgresql://x"),
            Some(StoreKind::Postgres)
        );
        let err = load_text("[store]\nephemeral = \"memcached://x\"\n").unwrap_err();
        assert!(err.to_string().starts_with("store.ephemeral:"), "{err}");
        let err = load_text("[store]\ndurable = \"mysql://x\"\n").unwrap_err();
        assert!(err.to_string().starts_with("store.durable:"), "{err}");
    }
}

mod ldap;

#[cfg(test)]
mod webhook_tests;
