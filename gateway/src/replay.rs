//! Replaying recorded or generated traffic through the gateway's own signal
//! gathering, at the attempts' own times — what `train` and `evaluate` score.
//!
//! A [`Replay`] is a private set of services (the memory ephemeral store, the
//! in-process durable store [`MemoryDurable`], a clock the replay moves) driven by
//! the same code as live traffic: [`service::assess_context`] gathers the
//! velocity windows (counting the attempt), the account's history and
//! factors, exactly as `POST /v1/reset` does, and [`Replay::observe`] records
//! the outcome as the live paths do: a success becomes history
//! (`record_success`, like a completed reset), a failure feeds the failure
//! windows, a contact change adds a phone factor (the SIM-swap signal).
//!
//! Differences from live traffic, on purpose: every account named in the data
//! exists, with an administrator-provisioned phone and an app (so the ladder
//! can always be met and only the score decides); the geo of an attempt comes
//! from its record, not from a GeoIP lookup; a successful *sign-in* counts as
//! history here (the data sets are sign-in logs; live, only resets do).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use anyhow::Context as _;
use models::dataset::{Attempt, Kind};

use crate::account::AccountName;
use crate::app::{self, AppState, BuildOptions};
use crate::config::Config;
use crate::flow::service::{self, Assessed};
use crate::http::client_addr::bucket;
use crate::signals::context::Context;
use crate::signals::{device, velocity};
use crate::store::durable::{FactorRecord, MemoryDurable, UserRecord};
use crate::time::{Clock, from_unix};

/// One replayed attempt's decision and its parts ([`Replay::decide`]).
#[derive(Debug, Clone)]
pub struct Decided {
    pub index: u64,
    pub label: models::dataset::Label,
    pub success: bool,
    /// The account's successes recorded before this attempt.
    pub prior_successes: u32,
    /// What `serve` decides: score `0..=100` and level.
    pub score: u8,
    pub level: risk::Level,
    /// The score of the policy without the history model and the anomaly model.
    pub rules_score: u8,
    /// log10 of the Freeman et al. likelihood ratio (higher = less like the
    /// account's own history).
    pub freeman_log10: f64,
    /// The anomaly model's score, `[0, 1]`.
    pub anomaly: f64,
    /// The features the model read (`models::features::SCHEMA` order).
    pub features: [f64; models::features::N],
    /// The account counters' lane the attempt read (its device was bound to the account).
    pub lane: velocity::Lane,
}

/// A clock the replay sets to each attempt's time.
#[derive(Debug)]
struct ReplayClock(Mutex<SystemTime>);

impl Clock for ReplayClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Private services replaying attempts in time order.
pub struct Replay {
    state: AppState,
    clock: Arc<ReplayClock>,
    known: Mutex<HashSet<String>>,
    /// The latest attempt time replayed (time only moves forward).
    last_at: Mutex<i64>,
    _dir: tempfile::TempDir,
}

impl Replay {
    /// Services with `policy` and the anomaly model `model` (or the bundled
    /// ones), new factors usable at once.
    pub async fn new(
        policy: Option<std::path::PathBuf>,
        model: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        Self::from_config(&Config::default(), policy, model).await
    }

    /// Services deciding with `operator`'s GeoIP databases and its risk
    /// policy (unless `policy` names another), and the anomaly model `model`
    /// (or the bundled one). Nothing else of the config is used: the stores,
    /// the directory, the providers and the webhooks stay the replay's own
    /// (in process), so a replay never touches production.
    pub async fn from_config(
        operator: &Config,
        policy: Option<std::path::PathBuf>,
        model: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("a temporary directory for the replay")?;
        let mut config = Config {
            geo: operator.geo.clone(),
            ..Config::default()
        };
        let policy = policy.or_else(|| operator.risk.policy.clone());
        config.secrets.key_file = dir.path().join("key");
        config.reset.factor_cooloff = std::time::Duration::ZERO;
        // A replay's clock runs far ahead of the minute purge: no budget, so
        // a dataset of any size replays (`train` on millions of attempts).
        config.store.memory_limit_mb = 1_048_576;
        config.risk.policy = policy;
        config.models.anomaly = model;
        let clock = Arc::new(ReplayClock(Mutex::new(SystemTime::UNIX_EPOCH)));
        let state = app::build(
            config,
            BuildOptions {
                demo: false,
                clock: Some(clock.clone()),
                // In process: nothing of a replay outlives it, and `SQLite`'s
                // round trips to its worker thread would dominate the time
                // per attempt.
                durable: Some(Arc::new(MemoryDurable::new())),
            },
        )
        .await?;
        Ok(Self {
            state,
            clock,
            known: Mutex::new(HashSet::new()),
            last_at: Mutex::new(i64::MIN),
            _dir: dir,
        })
    }

    /// The services (for the live policy).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Gather and decide `attempt` as `POST /v1/reset` would at its time,
    /// counting it in the velocity windows.
    pub async fn assess(&self, attempt: &Attempt) -> anyhow::Result<Assessed> {
        let name = self.account(attempt).await?;
        self.set_time(attempt.at);
        let context = context_of(attempt);
        service::assess_context(
            &self.state,
            name,
            context,
            attempt.ip,
            true,
            from_unix(attempt.at),
        )
        .await
        .map_err(|e| anyhow::anyhow!("replay of row {}: {e:?}", attempt.index))
    }

    /// Replay every attempt of `attempts` (read from `source`) in order: a
    /// sign-in or reset is decided ([`Self::decide`]) and handed to `each`,
    /// then its outcome observed; a contact change is only observed. Attempts
    /// must not go back in time, within a file or from one file to the next
    /// (`evaluate` replays its history, then its input). Returns how many
    /// attempts were decided.
    pub async fn replay_all<I>(
        &self,
        attempts: I,
        source: &std::path::Path,
        mut each: impl FnMut(&Attempt, Decided),
    ) -> anyhow::Result<u64>
    where
        I: IntoIterator<Item = Result<Attempt, models::dataset::Error>>,
    {
        let mut decided = 0;
        for attempt in attempts {
            let attempt = attempt?;
            {
                let mut last = self.last_at.lock().unwrap_or_else(PoisonError::into_inner);
                if attempt.at < *last {
                    anyhow::bail!(
                        "{}: row {} is earlier than the attempt replayed before it; attempts \
                         must be in time order (and --input after --history)",
                        source.display(),
                        attempt.index
                    );
                }
                *last = attempt.at;
            }
            let mut lane = velocity::Lane::Open;
            if attempt.kind != Kind::ContactChange {
                let decision = self.decide(&attempt).await?;
                lane = decision.lane;
                each(&attempt, decision);
                decided += 1;
            }
            self.observe(&attempt, lane).await?;
        }
        Ok(decided)
    }

    /// [`Self::assess`], and the scores of the decision's parts beside the
    /// served one, for evaluation: the policy's rules alone, the Freeman
    /// history model alone, the anomaly model alone; and the feature vector
    /// the model read.
    pub async fn decide(&self, attempt: &Attempt) -> anyhow::Result<Decided> {
        let assessed = self.assess(attempt).await?;
        let now = from_unix(attempt.at);
        let signals = &assessed.signals;
        let mut rules_only = signals.clone();
        rules_only.anomaly = None;
        rules_only.history.features.clear();
        let rules = risk::evaluate(&self.state.policy(), &rules_only, now);
        Ok(Decided {
            index: attempt.index,
            label: attempt.label,
            success: attempt.success,
            prior_successes: signals.history.events,
            score: assessed.assessment.score.get(),
            level: assessed.assessment.level,
            rules_score: rules.score.get(),
            freeman_log10: risk::history::log10_ratio(&signals.history.features),
            anomaly: signals.anomaly.unwrap_or(f64::NAN),
            features: models::features::features(signals, now),
            lane: velocity::Lane::of(signals.device.known),
        })
    }

    /// Record what `attempt` led to, as the live paths do; a failure counts in
    /// `lane` (the lane its decision read) as a live one does.
    pub async fn observe(&self, attempt: &Attempt, lane: velocity::Lane) -> anyhow::Result<()> {
        let name = self.account(attempt).await?;
        self.set_time(attempt.at);
        let s = &self.state;
        match (attempt.kind, attempt.success) {
            (Kind::ContactChange, true) => {
                s.durable
                    .add_factor(&phone(&name, attempt.at, false, attempt.index))
                    .await?;
            }
            (Kind::Login | Kind::Reset, true) => {
                let kind = if attempt.kind == Kind::Reset {
                    "reset"
                } else {
                    "login"
                };
                let event = context_of(attempt).success(name.as_str(), kind, attempt.at);
                s.durable.record_success(&event).await?;
            }
            (_, false) => {
                velocity::record_failure(
                    s.ephemeral.as_ref(),
                    name.as_str(),
                    lane,
                    &bucket(attempt.ip).to_string(),
                    from_unix(attempt.at),
                )
                .await?;
            }
        }
        Ok(())
    }

    fn set_time(&self, at: i64) {
        *self.clock.0.lock().unwrap_or_else(PoisonError::into_inner) = from_unix(at);
    }

    /// The attempt's account, created on first sight with a provisioned phone
    /// and an app, so every level's factors can be met.
    async fn account(&self, attempt: &Attempt) -> anyhow::Result<AccountName> {
        let name = AccountName::parse(&attempt.user)
            .map_err(|e| anyhow::anyhow!("row {}: user: {e}", attempt.index))?;
        let new = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string());
        if new {
            let s = &self.state;
            s.durable
                .create_user(&UserRecord {
                    username: name.to_string(),
                    // Never checked: replays do not sign in.
                    password_hash: String::new(),
                    email: None,
                    disabled: false,
                    created_at: 0,
                    password_changed_at: 0,
                })
                .await?;
            s.durable.add_factor(&phone(&name, 0, true, 0)).await?;
            s.durable
                .add_factor(&FactorRecord {
                    id: format!("totp-{name}"),
                    kind: "totp".into(),
                    label: "app".into(),
                    phone: None,
                    ..phone(&name, 0, true, 0)
                })
                .await?;
        }
        Ok(name)
    }
}

fn phone(name: &AccountName, at: i64, provisioned: bool, index: u64) -> FactorRecord {
    FactorRecord {
        id: format!("sms-{name}-{index}"),
        username: name.to_string(),
        kind: "sms".into(),
        label: "phone".into(),
        secret: None,
        phone: Some("+15550100000".into()),
        provisioned,
        created_at: at,
        last_used_at: None,
    }
}

/// The context an attempt's record describes (its own geo, not a lookup).
pub fn context_of(a: &Attempt) -> Context {
    let ua = (!a.user_agent.is_empty()).then_some(a.user_agent.as_str());
    Context {
        ip: a.ip.to_string(),
        country: a.country.clone(),
        city: a.city.clone(),
        location: match (a.lat, a.lon) {
            (Some(lat), Some(lon)) => Some(risk::signals::Location {
                lat,
                lon,
                accuracy_km: a.accuracy_km.unwrap_or(50.0),
            }),
            _ => None,
        },
        asn: a.asn,
        anonymous: a.anonymous,
        ua: device::parse(ua),
        ua_raw: ua.map(str::to_owned),
        device_id: a.device_id.clone(),
        had_cookie: a.device_id.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::dataset::Label;

    fn attempt(index: u64, at: i64, ip: &str, country: &str, success: bool) -> Attempt {
        Attempt {
            index,
            at,
            kind: Kind::Login,
            user: "ann".into(),
            ip: ip.parse().unwrap(),
            country: Some(country.into()),
            region: None,
            city: Some(format!("{country} city")),
            lat: Some(if country == "DE" { 52.5 } else { -33.9 }),
            lon: Some(if country == "DE" { 13.4 } else { 151.2 }),
            accuracy_km: Some(20.0),
            asn: Some(if country == "DE" { 3320 } else { 1221 }),
            anonymous: risk::signals::Anonymous::default(),
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36".into(),
            device_id: Some("dev-1".into()),
            rtt_ms: None,
            success,
            label: Label::Legit,
        }
    }

    #[tokio::test]
    async fn history_and_windows_build_up_as_live() {
        let replay = Replay::new(None, None).await.unwrap();
        let day = 86_400;
        let t0 = 1_780_000_000;
        for i in 0..5 {
            let a = attempt(
                i,
                t0 + i64::try_from(i).unwrap() * day,
                "198.51.100.7",
                "DE",
                true,
            );
            let assessed = replay.assess(&a).await.unwrap();
            assert_eq!(assessed.signals.history.events, u32::try_from(i).unwrap());
            let lane = velocity::Lane::of(assessed.signals.device.known);
            replay.observe(&a, lane).await.unwrap();
        }
        // Abroad, another network, a failure first: novelty and velocity show.
        let t = t0 + 6 * day;
        let abroad = attempt(5, t, "203.0.113.9", "AU", false);
        let assessed = replay.assess(&abroad).await.unwrap();
        let lane = velocity::Lane::of(assessed.signals.device.known);
        replay.observe(&abroad, lane).await.unwrap();
        let again = replay
            .assess(&attempt(6, t + 60, "203.0.113.9", "AU", true))
            .await
            .unwrap();
        let signals = &again.signals;
        assert_eq!(signals.history.events, 5);
        assert_eq!(signals.history.known_countries, vec!["DE".to_owned()]);
        assert_eq!(signals.geo.country.as_deref(), Some("AU"));
        assert_eq!(signals.velocity.account_failures_1h, 1);
        assert_eq!(signals.velocity.account_attempts_1h, 2);
        assert!(
            signals.device.known,
            "the device cookie is bound by the successes"
        );
        assert!(again.known && !again.decoy);
        // A day later the hour windows are empty again: time is the data's.
        let later = replay
            .assess(&attempt(7, t + day, "198.51.100.7", "DE", true))
            .await
            .unwrap();
        assert_eq!(later.signals.velocity.account_attempts_1h, 1);
        assert_eq!(later.signals.velocity.account_failures_1h, 0);
    }
}
