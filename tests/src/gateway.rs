//! The [`Gateway`] fixture: one private `resetgate serve` per test.
//!
//! Each gateway lives in its own temporary directory holding the config file, the
//! secrets key (created by the gateway), the `SQLite` database, the breached-password
//! list, an optional policy and `resetgate.log` (stdout and stderr of every process
//! started as `serve`). The child also runs with that directory as its working
//! directory, so nothing it writes lands in the checkout.
//!
//! Optional settings write their keys only when set, so a default gateway's config
//! is what it always was: `server.trusted_proxies` ([`GatewayBuilder::trusted_proxies`])
//! and `geo.city_db`, `geo.asn_db`, `geo.anonymous_db` ([`GatewayBuilder::geo`], or
//! [`Gateway::set_geo`] and a restart, for databases built with
//! [`Gateway::build_geo`] after the start), and `email.smtp_url`
//! ([`GatewayBuilder::smtp_url`], e.g. a [`crate::smtp::SmtpSink`]'s URL).
//!
//! Every gateway's `server.public_url` is `http://localhost:{port}` for the port it
//! listens on ([`Gateway::public_url`]): the origin a browser visits, and so the
//! origin and relying-party id of passkeys. `reset.factor_cooloff` is `0s`, so a factor
//! enrolled in a test authorises a reset at once.
//!
//! The port: the binary takes its address from `server.listen`, so the fixture binds
//! `127.0.0.1:0`, reads the port and drops the listener before starting the child.
//! Another process could take the port in between; when the child exits saying the
//! address is in use, the fixture tries again on a new port.
//!
//! Readiness is `GET /readyz` answering 200, polled (no fixed sleep) for at most
//! [`READY_TIMEOUT`]; on failure the panic message carries the log. The child is
//! killed when the fixture is dropped; after a failed test the directory is kept
//! and the log tail printed.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use resetgate_services::postgres::PostgresServer;
use resetgate_services::redis::{RedisCluster, RedisServer};
use tempfile::TempDir;

use crate::api::Api;
use crate::binary::resetgate_bin;
use crate::fixtures::{self, User};
use crate::sms::SmsReceiver;

/// The longest a gateway may take to answer `/readyz` with 200.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const START_ATTEMPTS: u32 = 3;
const CLI_TIMEOUT: Duration = Duration::from_mins(2);
const LOG_TAIL_LINES: usize = 80;

/// Options for a [`Gateway`]; `Gateway::builder().start().await` gives the defaults.
#[derive(Default)]
pub struct GatewayBuilder {
    policy: Option<String>,
    env: Vec<(String, String)>,
    trusted_proxies: Vec<String>,
    geo: Option<GeoDbs>,
    smtp_url: Option<String>,
    stores: Option<StoreUrls>,
    key_file: Option<PathBuf>,
    extra_config: String,
    twilio_token: Option<String>,
}

/// Which stores a gateway of [`Gateway::builder`] runs on when the test does
/// not say ([`GatewayBuilder::stores`]): `RESETGATE_TEST_STORES` =
/// `memory-sqlite` (the default), `redis-postgres` or `cluster-postgres`. With
/// the last two, every gateway gets its own private Redis (or 3-node Redis
/// Cluster) and `PostgreSQL`, started on free ports and stopped with it; `.ci/run`
/// runs the reset suite once more in each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreSetup {
    MemorySqlite,
    RedisPostgres,
    ClusterPostgres,
}

impl StoreSetup {
    /// The setup `RESETGATE_TEST_STORES` names (unset or empty: memory + `SQLite`).
    pub fn from_env() -> Self {
        match std::env::var("RESETGATE_TEST_STORES")
            .unwrap_or_default()
            .as_str()
        {
            "" | "memory-sqlite" => Self::MemorySqlite,
            "redis-postgres" => Self::RedisPostgres,
            "cluster-postgres" => Self::ClusterPostgres,
            other => panic!(
                "RESETGATE_TEST_STORES={other:?}: use memory-sqlite, redis-postgres or cluster-postgres"
            ),
        }
    }
}

/// `store.ephemeral` and `store.durable` for a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUrls {
    pub ephemeral: String,
    pub durable: String,
}

/// The private servers a gateway started for itself (dropped with it).
#[derive(Default)]
struct OwnedServers {
    _redis: Option<RedisServer>,
    _cluster: Option<RedisCluster>,
    _postgres: Option<PostgresServer>,
}

/// The three `MaxMind` DB files the `[geo]` keys point at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoDbs {
    /// `geo.city_db`
    pub city: PathBuf,
    /// `geo.asn_db`
    pub asn: PathBuf,
    /// `geo.anonymous_db`
    pub anonymous: PathBuf,
}

impl GeoDbs {
    /// The files `resetgate geo build CSV --out <city>` writes: `city` itself and,
    /// beside it, `<base>-asn.mmdb` and `<base>-anonymous.mmdb`, where `<base>` is
    /// the file name without `.mmdb` and without a trailing `-city`.
    pub fn built_as(city: &Path) -> Self {
        let name = city
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.strip_suffix(".mmdb").unwrap_or(&name);
        let base = stem.strip_suffix("-city").unwrap_or(stem);
        let beside = |suffix: &str| city.with_file_name(format!("{base}-{suffix}.mmdb"));
        Self {
            city: city.to_path_buf(),
            asn: beside("asn"),
            anonymous: beside("anonymous"),
        }
    }

    /// The three paths, City first.
    pub fn paths(&self) -> [&Path; 3] {
        [&self.city, &self.asn, &self.anonymous]
    }
}

impl GatewayBuilder {
    /// Use this risk policy (TOML text) instead of the default,
    /// [`fixtures::quiet_policy`] (the bundled one with the anomaly model's
    /// points off, so that levels do not hang on how a test network and a
    /// headless browser look to the model; `tests/it/model.rs` and the
    /// gateway's router tests cover the model's points).
    #[must_use]
    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Set an environment variable for `serve` and the CLI verbs.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `server.trusted_proxies`: CIDRs whose `X-Forwarded-For` the gateway believes.
    /// The tests connect from loopback, so `["127.0.0.0/8"]` makes every request's
    /// `X-Forwarded-For` (see [`crate::Api::forwarded_for`]) the client address.
    #[must_use]
    pub fn trusted_proxies<I, S>(mut self, cidrs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_proxies = cidrs.into_iter().map(Into::into).collect();
        self
    }

    /// `[geo]`: these databases instead of the bundled sample.
    #[must_use]
    pub fn geo(mut self, geo: GeoDbs) -> Self {
        self.geo = Some(geo);
        self
    }

    /// `email.smtp_url`: e-mail notices go to this relay (unset: not sent).
    #[must_use]
    pub fn smtp_url(mut self, url: impl Into<String>) -> Self {
        self.smtp_url = Some(url.into());
        self
    }

    /// SMS through `sms.provider = "twilio"` against the receiver's Twilio
    /// API ([`SmsReceiver::base_url`]), with this token (the receiver takes
    /// only [`crate::sms::TWILIO_TOKEN`]) and the sender `+15005550006`.
    #[must_use]
    pub fn sms_twilio(mut self, token: impl Into<String>) -> Self {
        self.twilio_token = Some(token.into());
        self
    }

    /// TOML appended to the config file as is, e.g. `[[webhooks]]` tables
    /// and `[webhook_delivery]` (only keys the gateway documents).
    #[must_use]
    pub fn config(mut self, toml: impl AsRef<str>) -> Self {
        self.extra_config.push('\n');
        self.extra_config.push_str(toml.as_ref());
        self.extra_config.push('\n');
        self
    }

    /// Run on these stores (servers the test started and controls) instead of
    /// the [`StoreSetup::from_env`] default.
    #[must_use]
    pub fn stores(mut self, ephemeral: impl Into<String>, durable: impl Into<String>) -> Self {
        self.stores = Some(StoreUrls {
            ephemeral: ephemeral.into(),
            durable: durable.into(),
        });
        self
    }

    /// `secrets.key_file`: this file instead of one in the gateway's own
    /// directory. Nodes of one deployment share the key (it seals TOTP seeds and
    /// keys the code MACs and the audit chain).
    #[must_use]
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_file = Some(path.into());
        self
    }

    /// A second node of `first`'s deployment: the same stores, server key and
    /// policy. (Its own directory, port, log and SMS receiver.)
    #[must_use]
    pub fn node_of(self, first: &Gateway) -> Self {
        let policy = fs::read_to_string(first.root.join("policy.toml"))
            .expect("the first node's policy file");
        self.stores(first.stores.ephemeral.clone(), first.stores.durable.clone())
            .key_file(first.key_path())
            .policy(policy)
    }

    /// Creates the directory, starts the SMS receiver and the gateway, and waits
    /// until it is ready.
    pub async fn start(self) -> Gateway {
        let dir = tempfile::Builder::new()
            .prefix("resetgate-it-")
            .tempdir()
            .expect("a temporary directory");
        let root = dir.path().to_path_buf();
        write(&root.join("pwned.txt"), &fixtures::pwned_txt());
        let policy = self.policy.clone().unwrap_or_else(fixtures::quiet_policy);
        write(&root.join("policy.toml"), &policy);
        let (stores, servers) = match self.stores {
            Some(urls) => (urls, OwnedServers::default()),
            None => own_stores(StoreSetup::from_env(), &root),
        };
        let key_path = self.key_file.unwrap_or_else(|| root.join("resetgate.key"));
        let mut gateway = Gateway {
            stores,
            _servers: servers,
            key_path,
            config_path: root.join("resetgate.toml"),
            log_path: root.join("resetgate.log"),
            env: self.env,
            trusted_proxies: self.trusted_proxies,
            geo: self.geo,
            smtp_url: self.smtp_url,
            extra_config: self.extra_config,
            twilio_token: self.twilio_token,
            sms: SmsReceiver::start().await,
            child: None,
            api: Api::new("http://127.0.0.1:0"),
            port: 0,
            root,
            dir,
        };
        gateway.spawn_until_ready().await;
        gateway
    }
}

/// A running gateway in its own directory (see the module docs).
pub struct Gateway {
    stores: StoreUrls,
    _servers: OwnedServers,
    key_path: PathBuf,
    dir: TempDir,
    root: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    env: Vec<(String, String)>,
    trusted_proxies: Vec<String>,
    geo: Option<GeoDbs>,
    smtp_url: Option<String>,
    extra_config: String,
    twilio_token: Option<String>,
    sms: SmsReceiver,
    child: Option<Child>,
    api: Api,
    port: u16,
}

/// What a CLI verb did.
pub struct CliOutput {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout followed by stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for CliOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`resetgate {}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

impl Gateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// A gateway with the defaults (bundled policy).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// The HTTP client for this gateway (its port changes on [`Self::restart`]).
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The port `serve` listens on (on 127.0.0.1; it changes on [`Self::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `server.public_url` as the config says: `http://localhost:{port}`. A browser
    /// must visit the pages at this origin: it is the passkeys' origin and `localhost`
    /// its relying-party id (and browsers treat localhost as a secure context).
    pub fn public_url(&self) -> String {
        public_url(self.port)
    }

    pub fn sms(&self) -> &SmsReceiver {
        &self.sms
    }

    /// The temporary directory everything lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The durable store's `SQLite` file (when it runs on `SQLite`).
    pub fn sqlite_path(&self) -> PathBuf {
        self.root.join("resetgate.db")
    }

    /// The stores it runs on.
    pub fn stores(&self) -> &StoreUrls {
        &self.stores
    }

    /// `secrets.key_file`.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// Sends SIGTERM (a graceful stop) and waits at most `timeout` for the
    /// process to exit; its exit status, or `None` if it was still running
    /// (then it is killed).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything `serve` wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs `resetgate <args> --config <file>` and returns what it did.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        self.cli_with_input(args, None).await
    }

    /// Like [`Self::cli`], with `input` on standard input (e.g. the password
    /// of `admin create`).
    pub async fn cli_with_input(&self, args: &[&str], input: Option<&str>) -> CliOutput {
        use tokio::io::AsyncWriteExt as _;
        let mut command = tokio::process::Command::new(resetgate_bin());
        command
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(&self.root)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in foreign_overrides() {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", resetgate_bin().display()));
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(text.as_bytes())
                .await
                .expect("writing the CLI's standard input");
        }
        let output = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("`resetgate {}` ran over {CLI_TIMEOUT:?}", args.join(" ")))
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", resetgate_bin().display()));
        CliOutput {
            args: args.iter().map(ToString::to_string).collect(),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Like [`Self::cli`], asserting exit status 0.
    pub async fn cli_ok(&self, args: &[&str]) -> CliOutput {
        let output = self.cli(args).await;
        assert!(output.success(), "{output}");
        output
    }

    /// Seeds the built-in directory with `resetgate users import`.
    pub async fn import_users(&self, users: &[User]) -> CliOutput {
        let csv = self.root.join("users.csv");
        write(&csv, &fixtures::users_csv(users));
        let csv = csv.to_str().expect("temporary paths are UTF-8");
        self.cli_ok(&["users", "import", csv]).await
    }

    /// `resetgate audit export`: every audit record, one JSON object per line.
    pub async fn audit_export(&self) -> String {
        self.cli_ok(&["audit", "export"]).await.stdout
    }

    /// Writes `csv` (the format of `data/geo/README.md`) to `geo.csv` in the
    /// directory and runs `resetgate geo build geo.csv --out <dir>/geo-city.mmdb`;
    /// asserts the three databases exist and returns them. They are not used until
    /// [`Self::set_geo`] and a restart (or [`GatewayBuilder::geo`]).
    pub async fn build_geo(&self, csv: &str) -> GeoDbs {
        let source = self.root.join("geo.csv");
        write(&source, csv);
        let dbs = GeoDbs::built_as(&self.root.join("geo-city.mmdb"));
        let utf8 = |path: &Path| path.to_str().expect("temporary paths are UTF-8").to_owned();
        let (source, city) = (utf8(&source), utf8(&dbs.city));
        let output = self
            .cli_ok(&["geo", "build", &source, "--out", &city])
            .await;
        for path in dbs.paths() {
            assert!(
                path.is_file(),
                "geo build did not write {}:\n{output}",
                path.display()
            );
        }
        dbs
    }

    /// Sets (or, with `None`, removes) the `[geo]` databases; the config file is
    /// rewritten, and the running gateway uses them, at the next [`Self::restart`].
    pub fn set_geo(&mut self, geo: Option<GeoDbs>) {
        self.geo = geo;
    }

    /// Kills the gateway process (the directory stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: kill only fails then.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the gateway and starts it again on the same directory (a new port).
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn_until_ready().await;
    }

    async fn spawn_until_ready(&mut self) {
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            self.api = Api::new(format!("http://127.0.0.1:{port}"));
            self.port = port;
            write(&self.config_path, &self.render_config(port));
            let log_len = self.log().len();
            self.child = Some(self.spawn_serve(port));
            let failure = match self.wait_ready().await {
                Ok(()) => return,
                Err(failure) => failure,
            };
            self.stop();
            let this_start = self.log().get(log_len..).unwrap_or_default().to_lowercase();
            if attempt < START_ATTEMPTS && this_start.contains("in use") {
                continue;
            }
            panic!(
                "resetgate did not become ready: {failure}\n--- {} ---\n{}\n--- {} ---\n{}",
                self.config_path.display(),
                fs::read_to_string(&self.config_path).unwrap_or_default(),
                self.log_path.display(),
                self.log()
            );
        }
    }

    fn spawn_serve(&self, port: u16) -> Child {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("the log file opens");
        writeln!(log, "=== resetgate serve on 127.0.0.1:{port} ===").expect("the log is writable");
        let stderr = log.try_clone().expect("the log handle clones");
        let mut command = Command::new(resetgate_bin());
        command
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        for key in foreign_overrides() {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", resetgate_bin().display()))
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = None;
        loop {
            let child = self.child.as_mut().expect("a child was just spawned");
            if let Some(status) = child.try_wait().expect("the child can be polled") {
                return Err(format!("`resetgate serve` exited with {status}"));
            }
            last = self
                .api
                .probe("/readyz", Duration::from_secs(1))
                .await
                .or(last);
            if last == Some(200) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "GET /readyz gave no 200 within {READY_TIMEOUT:?} (last status: {last:?})"
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The config file; only keys the gateway documents, since unknown keys are errors.
    fn render_config(&self, port: u16) -> String {
        let path = |name: &str| quote(&self.root.join(name).to_string_lossy());
        let ephemeral = quote(&self.stores.ephemeral);
        let durable = quote(&self.stores.durable);
        let listen = quote(&format!("127.0.0.1:{port}"));
        let public_url = quote(&public_url(port));
        let risk = format!("\n[risk]\npolicy = {}\n", path("policy.toml"));
        let proxies = if self.trusted_proxies.is_empty() {
            String::new()
        } else {
            let cidrs: Vec<String> = self.trusted_proxies.iter().map(|c| quote(c)).collect();
            format!("trusted_proxies = [{}]\n", cidrs.join(", "))
        };
        let geo = self.geo.as_ref().map_or_else(String::new, |geo| {
            let file = |p: &Path| quote(&p.to_string_lossy());
            format!(
                "\n[geo]\ncity_db = {}\nasn_db = {}\nanonymous_db = {}\n",
                file(&geo.city),
                file(&geo.asn),
                file(&geo.anonymous)
            )
        });
        let sms = match &self.twilio_token {
            None => format!(
                "provider = \"webhook\"\nwebhook_url = {}\n",
                quote(&self.sms.url())
            ),
            Some(token) => format!(
                "provider = \"twilio\"\ntwilio_base_url = {}\ntwilio_account = {}\n\
                 twilio_token = {}\ntwilio_from = \"+15005550006\"\n",
                quote(&self.sms.base_url()),
                quote(crate::sms::TWILIO_ACCOUNT),
                quote(token)
            ),
        };
        let email = self.smtp_url.as_ref().map_or_else(String::new, |url| {
            format!("\n[email]\nsmtp_url = {}\n", quote(url))
        });
        format!(
            "[server]\nlisten = {listen}\npublic_url = {public_url}\n{proxies}\n\
             [store]\nephemeral = {ephemeral}\ndurable = {durable}\n\n\
             [secrets]\nkey_file = {key}\n{risk}\n\
             [reset]\nfactor_cooloff = \"0s\"\n\n\
             [sms]\n{sms}\n\
             [password]\nbreached_file = {pwned}\n{geo}{email}{extra}",
            extra = self.extra_config,
            key = quote(&self.key_path.to_string_lossy()),
            pwned = path("pwned.txt"),
        )
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "resetgate test directory kept at {}\n--- last lines of {} ---\n{}",
                self.root.display(),
                self.log_path.display(),
                self.log_tail()
            );
        }
    }
}

/// Start the servers `setup` needs; memory + `SQLite` needs none (the
/// database file lives in `root`).
fn own_stores(setup: StoreSetup, root: &Path) -> (StoreUrls, OwnedServers) {
    let sqlite = || format!("sqlite://{}", root.join("resetgate.db").display());
    match setup {
        StoreSetup::MemorySqlite => (
            StoreUrls {
                ephemeral: "memory".into(),
                durable: sqlite(),
            },
            OwnedServers::default(),
        ),
        StoreSetup::RedisPostgres => {
            let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
            (
                StoreUrls {
                    ephemeral: redis.url(),
                    durable: postgres.url(),
                },
                OwnedServers {
                    _redis: Some(redis),
                    _cluster: None,
                    _postgres: Some(postgres),
                },
            )
        }
        StoreSetup::ClusterPostgres => {
            let (cluster, postgres) = (RedisCluster::start(3), PostgresServer::start());
            (
                StoreUrls {
                    ephemeral: cluster.url(),
                    durable: postgres.url(),
                },
                OwnedServers {
                    _redis: None,
                    _cluster: Some(cluster),
                    _postgres: Some(postgres),
                },
            )
        }
    }
}

/// `server.public_url` of a gateway on `port`.
fn public_url(port: u16) -> String {
    format!("http://localhost:{port}")
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("127.0.0.1:0 binds")
        .port()
}

/// `RESETGATE__SECTION__KEY` variables of the caller's environment would override
/// the config the test wrote; they are removed from the child's environment.
fn foreign_overrides() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| key.to_string_lossy().starts_with("RESETGATE__"))
        .collect()
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn write(path: &Path, contents: &str) {
    fs::write(path, contents)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::GeoDbs;
    use std::path::Path;

    #[test]
    fn geo_build_names_the_asn_and_anonymous_files_after_the_city_file() {
        let dbs = GeoDbs::built_as(Path::new("/t/geo-city.mmdb"));
        assert_eq!(dbs.asn, Path::new("/t/geo-asn.mmdb"));
        assert_eq!(dbs.anonymous, Path::new("/t/geo-anonymous.mmdb"));
        let plain = GeoDbs::built_as(Path::new("/t/world.mmdb"));
        assert_eq!(plain.asn, Path::new("/t/world-asn.mmdb"));
        assert_eq!(plain.anonymous, Path::new("/t/world-anonymous.mmdb"));
    }
}
