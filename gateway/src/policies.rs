//! The risk policy's lifecycle: every version stored with its author and
//! time, one of them live, optionally one in the shadow; upload, validate
//! (line-precise), diff, activate, roll back.
//!
//! ```text
//!   risk.policy file ─(start, or the file changed)─► version N (author "file") ─► live
//!   PUT /v1/admin/policy ────────────────────────► version N+1 (author: admin) ─► live
//!   POST …/versions ─► version (stored only) ─► POST …/versions/{id}/activate ─► live
//!   PUT  …/shadow {id} ─► shadow (evaluated beside the live one, decides nothing)
//! ```
//!
//! The durable store is the truth: the live policy of every node is the
//! version of the latest `live` activation, and each node polls for a new
//! one every `risk.reload_interval`, so an activation on one node reaches the
//! others within that time (and at once on the node that took it).
//!
//! Where a policy comes from when it is not uploaded:
//! - `risk.policy` set: the file's version is imported and made live at start
//!   when it differs from the file version imported last (so an operator's
//!   edit of the file wins, but a restart does not undo an activation made
//!   through the API), and again whenever the file changes while running;
//! - unset: the bundled policy is imported and made live only when the store
//!   has no live policy yet (an upgrade does not override an activation).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::http::StatusCode;
use serde::Serialize;

use crate::app::Live;
use crate::config::Config;
use crate::http::error::{ApiError, ApiResult};
use crate::store::durable::{Durable, PolicyActivation, PolicyRole, PolicyVersionRecord};

/// The setting that remembers the last imported `risk.policy` file version.
const FILE_VERSION: &str = "policy.file_version";
/// Largest policy file accepted through the API.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// The policies of one node: the live one and the shadow candidate, with the
/// activations they came from.
pub struct PolicyState {
    live: Live<risk::Policy>,
    live_activation: AtomicI64,
    shadow: RwLock<Option<Shadow>>,
    shadow_activation: AtomicI64,
    /// A changed `risk.policy` file (swapped in here already), to import.
    pending_file: Mutex<Option<String>>,
}

/// The shadow candidate.
#[derive(Clone)]
pub struct Shadow {
    pub version_id: i64,
    pub policy: Arc<risk::Policy>,
}

impl PolicyState {
    pub fn new(live: risk::Policy, activation: Option<i64>) -> Self {
        Self {
            live: Live::new(live),
            live_activation: AtomicI64::new(activation.unwrap_or(0)),
            shadow: RwLock::new(None),
            shadow_activation: AtomicI64::new(0),
            pending_file: Mutex::new(None),
        }
    }

    pub fn live(&self) -> Arc<risk::Policy> {
        self.live.get()
    }

    pub fn shadow(&self) -> Option<Shadow> {
        self.shadow
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The `risk.policy` file changed to `text` (valid: `policy`): live here
    /// at once, imported into the store by the next [`refresh`].
    pub fn file_changed(&self, text: String, policy: risk::Policy) -> String {
        let version = self.live.swap(policy, risk::Policy::version);
        *self
            .pending_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(text);
        version
    }
}

/// The policy text named by the configuration and who it is from: the
/// `risk.policy` file (`"file"`) or the bundled one (`"bundled"`).
pub fn source(config: &Config) -> anyhow::Result<(String, &'static str)> {
    match &config.risk.policy {
        None => Ok((risk::Policy::BUNDLED_TOML.to_owned(), "bundled")),
        Some(path) => Ok((
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("risk.policy {}: {e}", path.display()))?,
            "file",
        )),
    }
}

/// At start: import the configured policy as the rules above say, and
/// return the live policy with its activation.
pub async fn bootstrap(
    store: &dyn Durable,
    config: &Config,
    now: i64,
) -> anyhow::Result<PolicyState> {
    let (text, author) = source(config)?;
    let configured = risk::Policy::parse(&text).map_err(|e| match &config.risk.policy {
        Some(path) => anyhow::anyhow!("risk.policy {}: {e}", path.display()),
        None => anyhow::anyhow!("the bundled policy: {e}"),
    })?;
    let live = store.policy_activation(PolicyRole::Live).await?;
    let import = match author {
        "file" => store.setting(FILE_VERSION).await?.as_deref() != Some(configured.version()),
        _ => live.is_none(),
    };
    if import {
        let id = store
            .add_policy_version(configured.version(), &text, author, "", now)
            .await?;
        if live.as_ref().and_then(|a| a.version_id) != Some(id) {
            store
                .activate_policy(PolicyRole::Live, Some(id), author, now)
                .await?;
        }
        if author == "file" {
            store
                .set_setting(FILE_VERSION, configured.version())
                .await?;
        }
    }
    let state = PolicyState::new(configured, None);
    refresh_from(store, &state).await?;
    Ok(state)
}

/// Bring this node's live and shadow policies up to the store's activations
/// (and import a changed `risk.policy` file first). Called every
/// `risk.reload_interval` and after every change made on this node.
pub async fn refresh_from(store: &dyn Durable, state: &PolicyState) -> anyhow::Result<()> {
    let pending = state
        .pending_file
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(text) = pending
        && let Err(e) = import_file(store, &text).await
    {
        // Tried again at the next tick.
        *state
            .pending_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(text);
        return Err(e);
    }
    if let Some(activation) = store.policy_activation(PolicyRole::Live).await?
        && activation.id != state.live_activation.load(Ordering::Acquire)
        && let Some(id) = activation.version_id
    {
        let policy = load(store, id).await?;
        let version = state.live.swap(policy, risk::Policy::version);
        state
            .live_activation
            .store(activation.id, Ordering::Release);
        tracing::info!(%version, by = %activation.activated_by, "risk policy activated");
    }
    let shadow = store.policy_activation(PolicyRole::Shadow).await?;
    let shadow_id = shadow.as_ref().map_or(0, |a| a.id);
    if shadow_id != state.shadow_activation.load(Ordering::Acquire) {
        let fresh = match shadow.and_then(|a| a.version_id) {
            Some(id) => Some(Shadow {
                version_id: id,
                policy: Arc::new(load(store, id).await?),
            }),
            None => None,
        };
        *state.shadow.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        state.shadow_activation.store(shadow_id, Ordering::Release);
    }
    Ok(())
}

async fn import_file(store: &dyn Durable, text: &str) -> anyhow::Result<()> {
    let policy = risk::Policy::parse(text)?;
    let now = crate::time::unix(std::time::SystemTime::now());
    let id = store
        .add_policy_version(policy.version(), text, "file", "", now)
        .await?;
    let live = store.policy_activation(PolicyRole::Live).await?;
    if live.and_then(|a| a.version_id) != Some(id) {
        store
            .activate_policy(PolicyRole::Live, Some(id), "file", now)
            .await?;
    }
    store.set_setting(FILE_VERSION, policy.version()).await?;
    Ok(())
}

async fn load(store: &dyn Durable, id: i64) -> anyhow::Result<risk::Policy> {
    let record = store
        .policy_version(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("policy version {id} is activated but not stored"))?;
    risk::Policy::parse(&record.text)
        .map_err(|e| anyhow::anyhow!("stored policy version {id} ({}): {e}", record.version))
}

/// Check a policy text; a refusal is 422 `invalid_policy` with the problem
/// and, where it can be found, its `line` and `column`.
pub fn validate(text: &str) -> ApiResult<risk::Policy> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "policy_too_large",
            format!("a policy may have at most {MAX_POLICY_BYTES} bytes"),
        ));
    }
    risk::Policy::parse(text).map_err(|e| {
        let located = e.location(text);
        let message = match (&e, located) {
            (risk::PolicyError::Invalid { .. }, Some((line, column))) => {
                format!("{line}:{column}: {e}")
            }
            _ => e.to_string(),
        };
        let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy", message);
        if let Some((line, column)) = located {
            err = err.with("line", line).with("column", column);
        }
        err
    })
}

/// A stored version as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub id: i64,
    pub version: String,
    pub author: String,
    pub comment: String,
    pub created_at: String,
    /// This version is the live one.
    pub live: bool,
    /// This version is the shadow candidate.
    pub shadow: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

fn view(record: PolicyVersionRecord, roles: &Roles, with_text: bool) -> VersionView {
    VersionView {
        id: record.id,
        live: roles.live == Some(record.id),
        shadow: roles.shadow == Some(record.id),
        version: record.version,
        author: record.author,
        comment: record.comment,
        created_at: crate::time::rfc3339(crate::time::from_unix(record.created_at)),
        text: with_text.then_some(record.text),
    }
}

/// Which versions are live and in the shadow now (per the store).
struct Roles {
    live: Option<i64>,
    shadow: Option<i64>,
}

async fn roles(store: &dyn Durable) -> ApiResult<Roles> {
    let version = |a: Option<PolicyActivation>| a.and_then(|a| a.version_id);
    Ok(Roles {
        live: version(store.policy_activation(PolicyRole::Live).await?),
        shadow: version(store.policy_activation(PolicyRole::Shadow).await?),
    })
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no policy version {id}"),
    )
}

/// Version `id`, with its text.
pub async fn version(store: &dyn Durable, id: i64) -> ApiResult<VersionView> {
    let record = store
        .policy_version(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(view(record, &roles(store).await?, true))
}

/// The live version, with its text.
pub async fn live(store: &dyn Durable) -> ApiResult<VersionView> {
    let id = roles(store)
        .await?
        .live
        .ok_or_else(|| ApiError::internal("no live policy version in the store"))?;
    version(store, id).await
}

/// The newest `limit` versions, newest first, without their text.
pub async fn versions(store: &dyn Durable, limit: i64) -> ApiResult<Vec<VersionView>> {
    let roles = roles(store).await?;
    Ok(store
        .policy_versions(limit.clamp(1, 500))
        .await?
        .into_iter()
        .map(|r| view(r, &roles, false))
        .collect())
}

/// Validate and store `text` by `by`; make it live when `activate`.
pub async fn upload(
    store: &dyn Durable,
    state: &PolicyState,
    by: &str,
    text: &str,
    comment: &str,
    activate: bool,
    now: i64,
) -> ApiResult<VersionView> {
    let policy = validate(text)?;
    if comment.chars().count() > 500 {
        return Err(ApiError::invalid("comment: at most 500 characters"));
    }
    let id = store
        .add_policy_version(policy.version(), text, by, comment, now)
        .await?;
    if activate {
        set(store, state, PolicyRole::Live, Some(id), by, now).await?;
    }
    version(store, id).await
}

/// Make version `id` the policy of `role` (`None`: no shadow), by `by`;
/// the version as it is now.
pub async fn set(
    store: &dyn Durable,
    state: &PolicyState,
    role: PolicyRole,
    id: Option<i64>,
    by: &str,
    now: i64,
) -> ApiResult<Option<VersionView>> {
    let record = match id {
        Some(id) => Some(
            store
                .policy_version(id)
                .await?
                .ok_or_else(|| not_found(id))?,
        ),
        None => None,
    };
    if let Some(record) = &record {
        // Refused before it is activated: a version stored by an older or
        // newer build may not parse here.
        risk::Policy::parse(&record.text).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_policy",
                format!("version {} does not parse in this build: {e}", record.id),
            )
        })?;
    }
    store.activate_policy(role, id, by, now).await?;
    refresh_from(store, state)
        .await
        .map_err(ApiError::internal)?;
    let roles = roles(store).await?;
    Ok(record.map(|r| view(r, &roles, false)))
}

/// A unified diff from `old` to `new` (3 lines of context), with the two
/// labels as file names; empty when they are the same.
pub fn diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_policy_names_its_line_and_column() {
        let text = risk::Policy::BUNDLED_TOML.replacen("high = 60", "high = 30", 1);
        let err = validate(&text).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.code, "invalid_policy");
        let line = text.lines().position(|l| l == "high = 30").unwrap() + 1;
        assert!(
            err.message.starts_with(&format!("{line}:")),
            "{}",
            err.message
        );
        assert!(err.message.contains("levels.high"), "{}", err.message);
    }

    #[test]
    fn a_diff_shows_the_changed_lines_only_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let d = diff(old, new, "live", "candidate");
        assert!(d.starts_with("--- live\n+++ candidate\n"), "{d}");
        assert!(d.contains("-e\n+E\n"), "{d}");
        assert!(!d.contains(" a\n"), "only 3 lines of context: {d}");
        assert_eq!(diff(old, old, "a", "b"), "");
    }
}
