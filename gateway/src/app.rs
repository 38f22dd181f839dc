//! Application state and assembly: config in, [`AppState`] out; [`serve`] runs
//! the router on an already-bound listener (tests bind `127.0.0.1:0`).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::audit::AuditLog;
use crate::config::{Config, StoreKind};
use crate::crypto::ServerKey;
use crate::directory::hasher::Hasher;
use crate::directory::{Builtin, Directory};
use crate::factors::sms::{Outbox, SmsSender};
use crate::reset_core::password::{PasswordPolicy, PasswordRules};
use crate::store::durable::{Durable, PostgresStore, SqliteStore};
use crate::store::ephemeral::{Ephemeral, MemoryStore, RedisStore};
use crate::time::{Clock, SystemClock};

/// Everything a request needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub config: Config,
    pub ephemeral: Arc<dyn Ephemeral>,
    pub durable: Arc<dyn Durable>,
    pub directory: Arc<dyn Directory>,
    pub audit: AuditLog,
    /// The live risk policy and the shadow candidate (`crate::policies`).
    pub policies: crate::policies::PolicyState,
    model: Live<models::model::Model>,
    pub passwords: PasswordPolicy,
    pub key: ServerKey,
    pub sms: SmsSender,
    /// E-mail notices (`email.smtp_url`).
    pub email: crate::email::EmailSender,
    pub hasher: Hasher,
    pub clock: Arc<dyn Clock>,
    /// The WebAuthn relying party (`server.public_url`).
    pub webauthn: Arc<webauthn_rs::Webauthn>,
    pub limiter: Arc<crate::http::limits::AddressLimiter>,
    /// `GeoIP` databases (hot-reloaded).
    pub geo: Arc<crate::signals::geo::ReloadingGeo>,
    /// The dev outbox page is served only in demo mode.
    pub outbox: Option<Outbox>,
    /// SOC webhook endpoints and delivery settings (`[[webhooks]]`,
    /// `[webhook_delivery]`); [`crate::webhooks::dispatch`] sends.
    pub webhooks: crate::webhooks::outbox::Webhooks,
}

/// A hot-swappable value (the policy, the model): readers take the current
/// `Arc`, a swap replaces it for later readers only.
pub(crate) struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    pub(crate) fn get(&self) -> Arc<T> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `fresh` in unless the live value has the same version; returns it.
    pub(crate) fn swap(&self, fresh: T, version: fn(&T) -> &str) -> String {
        let fresh_version = version(&fresh).to_owned();
        let mut live = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if version(&live) != fresh_version {
            *live = Arc::new(fresh);
        }
        fresh_version
    }
}

impl Services {
    /// The live policy.
    pub fn policy(&self) -> Arc<risk::Policy> {
        self.policies.live()
    }

    /// Re-read `risk.policy`: a valid file is stored as a new live version
    /// for every node by the next policy refresh (within
    /// `risk.reload_interval`; swapped in atomically, requests in flight keep
    /// the `Arc` they hold); an invalid one is refused with the exact problem
    /// and the live policy stays. Returns the file's version.
    pub fn reload_policy(&self) -> anyhow::Result<String> {
        let configured = crate::policies::configured(&self.config)?;
        let version = configured.policy.version().to_owned();
        self.policies.file_changed(configured.text);
        Ok(version)
    }

    /// The live anomaly model.
    pub fn model(&self) -> Arc<models::model::Model> {
        self.model.get()
    }

    /// Re-read `models.anomaly`: as [`Self::reload_policy`], a model that loads
    /// is swapped in atomically, one that does not (unreadable, another
    /// feature schema, edited after training) is refused with the exact
    /// problem and the live model stays. Returns the live version.
    pub fn reload_model(&self) -> anyhow::Result<String> {
        Ok(self
            .model
            .swap(load_model(&self.config)?, models::model::Model::version))
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        crate::time::unix(self.clock.now())
    }
}

/// Options that are not configuration.
#[derive(Clone, Default)]
pub struct BuildOptions {
    pub demo: bool,
    /// Where "now" comes from (default: the system clock). Replays of
    /// recorded traffic pass a clock they move themselves.
    pub clock: Option<Arc<dyn Clock>>,
    /// A durable store to use instead of `store.durable` (replays use an
    /// in-memory one).
    pub durable: Option<Arc<dyn Durable>>,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("demo", &self.demo)
            .field("clock", &self.clock)
            .field("durable", &self.durable.as_ref().map(|_| "set"))
            .finish()
    }
}

/// Load the policy named by `risk.policy`, or the bundled one.
pub fn load_policy(config: &Config) -> anyhow::Result<risk::Policy> {
    Ok(crate::policies::configured(config)?.policy)
}

/// Load the anomaly model named by `models.anomaly`, or the bundled one.
pub fn load_model(config: &Config) -> anyhow::Result<models::model::Model> {
    match &config.models.anomaly {
        None => {
            models::model::bundled().map_err(|e| anyhow::anyhow!("the bundled anomaly model: {e}"))
        }
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("models.anomaly {}", path.display()))?;
            models::model::load(&bytes)
                .map_err(|e| anyhow::anyhow!("models.anomaly {}: {e}", path.display()))
        }
    }
}

/// Load the server key from `secrets.key` or `secrets.key_file`.
pub fn load_key(config: &Config) -> anyhow::Result<ServerKey> {
    Ok(match &config.secrets.key {
        Some(key) => ServerKey::from_base64(key.expose_secret(), "secrets.key")?,
        None => ServerKey::load_or_create(&config.secrets.key_file)?,
    })
}

/// Load the server key without creating one (for verifying what it signed).
pub fn load_existing_key(config: &Config) -> anyhow::Result<ServerKey> {
    if config.secrets.key.is_none() && !config.secrets.key_file.exists() {
        anyhow::bail!(
            "secrets.key_file {} does not exist: the audit chain is keyed by the server key",
            config.secrets.key_file.display()
        );
    }
    load_key(config)
}

/// Load the password policy (bundled common list, optional breached list).
pub fn load_passwords(config: &Config) -> anyhow::Result<PasswordPolicy> {
    let rules = PasswordRules {
        min_length: config.password.min_length,
        max_length: config.password.max_length,
        breached_file: config.password.breached_file.clone(),
    };
    PasswordPolicy::load(&rules).map_err(|e| anyhow::anyhow!("password: {e}"))
}

/// Open the durable store named by `store.durable` (`SQLite` or `PostgreSQL`;
/// both migrate on open).
pub async fn open_durable(config: &Config) -> anyhow::Result<Arc<dyn Durable>> {
    let url = &config.store.durable;
    let context = || format!("store.durable {}", redacted(url));
    Ok(match StoreKind::durable(url) {
        Some(StoreKind::Postgres) => {
            Arc::new(PostgresStore::open(url).await.with_context(context)?)
        }
        _ => Arc::new(SqliteStore::open(url).await.with_context(context)?),
    })
}

/// Open the ephemeral store named by `store.ephemeral`: the in-process one
/// (purged of expired entries every minute by `clock`) or Redis, which must
/// answer now (a node that cannot reach it does not start).
pub async fn open_ephemeral(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn Ephemeral>> {
    let url = &config.store.ephemeral;
    if let Some(StoreKind::Redis | StoreKind::RedisCluster) = StoreKind::ephemeral(url) {
        let redis = RedisStore::connect(url)
            .await
            .with_context(|| format!("store.ephemeral {}", redacted(url)))?;
        return Ok(Arc::new(redis));
    }
    let limit = usize::try_from(u64::from(config.store.memory_limit_mb) << 20);
    let memory = Arc::new(MemoryStore::with_limit(limit.unwrap_or(usize::MAX)));
    spawn_purger(memory.clone(), clock);
    Ok(memory)
}

/// A store URL fit for messages and logs: the password of the user-info and
/// of a `password=` / `sslpassword=` query parameter (which sqlx accepts)
/// replaced by `***`.
pub fn redacted(url: &str) -> String {
    // `redis+cluster://a:1,b:2` is not a URL the `url` crate takes apart;
    // the user-info, if any, sits between `://` and the last `@` before the
    // query.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let mut out = match rest.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            if user_info.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => format!("{scheme}://{rest}"),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _))
                    if key.eq_ignore_ascii_case("password")
                        || key.eq_ignore_ascii_case("sslpassword") =>
                {
                    format!("{key}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Assemble the services from a validated config.
pub async fn build(config: Config, options: BuildOptions) -> anyhow::Result<AppState> {
    let model = load_model(&config)?;
    let key = load_key(&config)?;
    let passwords = load_passwords(&config)?;
    let durable: Arc<dyn Durable> = match options.durable.clone() {
        Some(durable) => durable,
        None => open_durable(&config).await?,
    };
    let clock: Arc<dyn Clock> = options
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(SystemClock));
    let policies =
        crate::policies::bootstrap(durable.as_ref(), &config, crate::time::unix(clock.now()))
            .await
            .context("risk policy")?;
    let ephemeral = open_ephemeral(&config, clock.clone()).await?;
    let hasher = Hasher::with_concurrency(config.directory.hash_concurrency);
    let directory: Arc<dyn Directory> = match config.directory.kind {
        crate::config::DirectoryKind::Builtin => Arc::new(Builtin::new(
            durable.clone(),
            hasher.clone(),
            config.password.history,
            clock.clone(),
        )),
        crate::config::DirectoryKind::Ldap => {
            Arc::new(crate::directory::LdapDirectory::new(&config.ldap)?)
        }
    };
    let outbox = Outbox::default();
    let sms = SmsSender::new(&config.sms, outbox.clone());
    let email = crate::email::EmailSender::new(&config.email)?;
    let audit = AuditLog::spawn(durable.clone(), key.clone());
    let webhooks =
        crate::webhooks::outbox::Webhooks::new(&config, key.clone(), audit.alerts(), clock.now());
    webhooks
        .sync_config(durable.as_ref())
        .await
        .context("[[webhooks]]: writing the endpoints to the durable store")?;
    let geo = Arc::new(crate::signals::geo::ReloadingGeo::from_config(&config.geo)?);
    geo.spawn_watcher(config.geo.reload_interval);
    let webauthn = Arc::new(crate::factors::webauthn::relying_party(
        &config.server.public_url,
    )?);
    let limiter = crate::http::limits::limiter(config.server.rate_limit_per_second);
    crate::http::limits::spawn_retention(limiter.clone());
    let state = AppState(Arc::new(Services {
        config,
        ephemeral,
        durable,
        directory,
        audit,
        policies,
        model: Live::new(model),
        passwords,
        key,
        sms,
        email,
        hasher,
        clock,
        webauthn,
        limiter,
        geo,
        outbox: options.demo.then_some(outbox),
        webhooks,
    }));
    spawn_policy_watcher(&state);
    Ok(state)
}

/// Watch `risk.policy` and `models.anomaly` (when set) and hot-reload each
/// when its file changes; follow the policy activations of the durable store.
pub fn spawn_policy_watcher(state: &AppState) {
    spawn_policy_refresh(state);
    if let Some(path) = state.config.risk.policy.clone() {
        spawn_file_watcher(state, path, "risk policy", Services::reload_policy);
    }
    if let Some(path) = state.config.models.anomaly.clone() {
        spawn_file_watcher(state, path, "anomaly model", Services::reload_model);
    }
}

/// Every `risk.reload_interval`: bring this node's policies up to the
/// store's activations (`crate::policies::refresh_from`).
fn spawn_policy_refresh(state: &AppState) {
    let weak = Arc::downgrade(&state.0);
    let every = state
        .config
        .risk
        .reload_interval
        .max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(services) = weak.upgrade() else {
                return;
            };
            if let Err(e) =
                crate::policies::refresh_from(services.durable.as_ref(), &services.policies).await
            {
                tracing::warn!(error = %format!("{e:#}"), "could not refresh the risk policy from the store; the live one stays");
            }
        }
    });
}

/// Poll `path` every `risk.reload_interval` and call `reload` once a change
/// has settled; a refused change is logged and the live one stays.
fn spawn_file_watcher(
    state: &AppState,
    path: std::path::PathBuf,
    what: &'static str,
    reload: fn(&Services) -> anyhow::Result<String>,
) {
    let weak = Arc::downgrade(&state.0);
    let every = state
        .config
        .risk
        .reload_interval
        .max(Duration::from_millis(100));
    tokio::spawn(async move {
        // (mtime, length): a change is reloaded only once it has settled, i.e.
        // looks the same on two consecutive ticks, so a file caught mid-write
        // is not validated and swapped in half-written. (Writing a new file and
        // renaming it over the old one is the safe way to change it.)
        let stamp = |p: &std::path::Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().ok(), m.len()))
        };
        let mut live = stamp(&path);
        let mut pending: Option<Option<(Option<std::time::SystemTime>, u64)>> = None;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(services) = weak.upgrade() else {
                return;
            };
            let now = stamp(&path);
            if now == live {
                pending = None;
                continue;
            }
            if pending.as_ref() != Some(&now) {
                pending = Some(now);
                continue;
            }
            live = now;
            pending = None;
            match reload(&services) {
                Ok(version) => tracing::info!(%version, "{what} reloaded"),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "{what} change refused; the previous one stays live");
                }
            }
        }
    });
}

/// Drop expired entries every minute, by the services' clock (so a replay at
/// its own times does not lose its windows).
fn spawn_purger(store: Arc<MemoryStore>, clock: Arc<dyn Clock>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_mins(1));
        loop {
            tick.tick().await;
            store.purge(clock.now());
        }
    });
}

/// Serve until `shutdown` resolves, then stop accepting and let in-flight
/// requests finish for at most `server.shutdown_grace`. Nothing acknowledged
/// is left to flush: an audit record is committed before its response is
/// sent, and the stores hold everything else.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config.server.shutdown_grace;
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let audit = state.audit.clone();
    let app = crate::http::router(state);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    let deadline = async move {
        if stopped.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace = ?grace, "requests still in flight after server.shutdown_grace; stopping anyway");
            Ok(())
        }
    };
    // Reset starts' records that were answered before their commit
    // (`AuditLog::submit`) are committed before the process ends.
    audit.settled().await;
    result
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn store_urls_in_messages_never_show_a_password() {
        assert_eq!(
            redacted("postgres://rg:s3cret@db:5432/resetgate"),
            "postgres://rg:***@db:5432/resetgate"
        );
        assert_eq!(
            redacted("redis://:s3cret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redacted("redis+cluster://u:p@a:7000,b:7001"),
            "redis+cluster://u:***@a:7000,b:7001"
        );
        assert_eq!(redacted("postgres://rg@db/x"), "postgres://rg@db/x");
        assert_eq!(
            redacted("postgres://rg@db/x?sslmode=require&password=s3cret"),
            "postgres://rg@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redacted("postgres://db/x?sslpassword=k3y&user=rg"),
            "postgres://db/x?sslpassword=***&user=rg"
        );
        assert_eq!(redacted("memory"), "memory");
        assert_eq!(redacted("sqlite://var/a.db"), "sqlite://var/a.db");
    }
}
