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

use serde_json::json;

use crate::account::AccountName;
use crate::app::{AppState, Live};
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
    /// A changed `risk.policy` file, to import at the next refresh.
    pending_file: Mutex<Option<String>>,
    /// One refresh at a time on a node, so a slow one cannot put back an
    /// older activation over a newer one.
    refreshing: tokio::sync::Mutex<()>,
}

/// The shadow candidate.
#[derive(Clone)]
pub struct Shadow {
    pub version_id: i64,
    pub policy: Arc<risk::Policy>,
}

impl PolicyState {
    /// `live` until the first refresh brings the store's activation.
    pub fn new(live: risk::Policy) -> Self {
        Self {
            live: Live::new(live),
            live_activation: AtomicI64::new(0),
            shadow: RwLock::new(None),
            shadow_activation: AtomicI64::new(0),
            pending_file: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
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

    /// The `risk.policy` file changed to `text` (valid): imported into the
    /// store and made live by the next [`refresh_from`] if its version is not
    /// the one imported last (a file touched but not changed undoes nothing).
    pub fn file_changed(&self, text: String) {
        *self
            .pending_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(text);
    }
}

/// The policy the configuration names: the `risk.policy` file (author
/// `"file"`) or the bundled one (`"bundled"`), its text and the parsed policy.
pub struct Configured {
    pub text: String,
    pub author: &'static str,
    pub policy: risk::Policy,
}

/// Read and parse the configured policy; an error names the file and the
/// exact problem.
pub fn configured(config: &Config) -> anyhow::Result<Configured> {
    let (text, author) = match &config.risk.policy {
        None => (risk::Policy::BUNDLED_TOML.to_owned(), "bundled"),
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("risk.policy {}: {e}", path.display()))?,
            "file",
        ),
    };
    let policy = risk::Policy::parse(&text).map_err(|e| match &config.risk.policy {
        Some(path) => anyhow::anyhow!("risk.policy {}: {e}", path.display()),
        None => anyhow::anyhow!("the bundled policy: {e}"),
    })?;
    Ok(Configured {
        text,
        author,
        policy,
    })
}

/// At start: import the configured policy as the rules above say, and
/// return the live policy with its activation.
pub async fn bootstrap(
    store: &dyn Durable,
    config: &Config,
    now: i64,
) -> anyhow::Result<PolicyState> {
    let Configured {
        text,
        author,
        policy: configured,
    } = configured(config)?;
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
    let state = PolicyState::new(configured);
    refresh_from(store, &state).await?;
    Ok(state)
}

/// Bring this node's live and shadow policies up to the store's activations
/// (and import a changed `risk.policy` file first). Called every
/// `risk.reload_interval` and after every change made on this node; one at
/// a time per node, and only ever forward (activation ids increase).
pub async fn refresh_from(store: &dyn Durable, state: &PolicyState) -> anyhow::Result<()> {
    let _one = state.refreshing.lock().await;
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
        && activation.id > state.live_activation.load(Ordering::Acquire)
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
    if shadow_id > state.shadow_activation.load(Ordering::Acquire) {
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

/// A changed `risk.policy` file: stored and made live unless it is the
/// version imported last (then the change was only a touch, and an
/// activation made since through the API stays).
async fn import_file(store: &dyn Durable, text: &str) -> anyhow::Result<()> {
    let policy = risk::Policy::parse(text)?;
    if store.setting(FILE_VERSION).await?.as_deref() == Some(policy.version()) {
        return Ok(());
    }
    let now = crate::time::unix(std::time::SystemTime::now());
    let id = store
        .add_policy_version(policy.version(), text, "file", "", now)
        .await?;
    store
        .activate_policy(PolicyRole::Live, Some(id), "file", now)
        .await?;
    store.set_setting(FILE_VERSION, policy.version()).await?;
    tracing::info!(version = %policy.version(), "risk.policy changed: stored and activated");
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

/// Validate and store `text` by `by`; make it live when `activate`. Audited
/// (`policy.uploaded` / `policy.activated`, with `via`) before it takes
/// effect; a refusal is audited as `policy.refused`.
pub async fn upload(
    s: &AppState,
    by: &AccountName,
    text: &str,
    comment: &str,
    activate: bool,
    via: &str,
) -> ApiResult<VersionView> {
    let store = s.durable.as_ref();
    if comment.chars().count() > 500 {
        return Err(ApiError::invalid("comment: at most 500 characters"));
    }
    let policy = match validate(text) {
        Ok(policy) => policy,
        Err(e) => {
            crate::admin::audit(
                s,
                s.clock.now(),
                "policy.refused",
                by,
                json!({"problem": e.message, "via": via}),
            )
            .await?;
            return Err(e);
        }
    };
    let kind = if activate {
        "policy.activated"
    } else {
        "policy.uploaded"
    };
    crate::admin::audit(
        s,
        s.clock.now(),
        kind,
        by,
        json!({"version": policy.version(), "comment": comment, "via": via}),
    )
    .await?;
    let id = store
        .add_policy_version(policy.version(), text, by.as_str(), comment, s.now())
        .await?;
    // The version string holds a 48-bit prefix of the text's hash: a
    // different text under the same string is refused, never merged.
    let stored = store
        .policy_version(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if stored.text != text {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "policy_conflict",
            format!(
                "another policy text is stored as {} (version {id}); change the declared version",
                stored.version
            ),
        ));
    }
    if activate {
        activate_checked(s, PolicyRole::Live, Some(id), by).await?;
    }
    version(store, id).await
}

/// Make version `id` the policy of `role` (`None`: no shadow), by `by`;
/// audited before it takes effect (`policy.activated`,
/// `policy.shadow_set`, `policy.shadow_cleared`). The version as it is now.
pub async fn set(
    s: &AppState,
    role: PolicyRole,
    id: Option<i64>,
    by: &AccountName,
    via: &str,
) -> ApiResult<Option<VersionView>> {
    let store = s.durable.as_ref();
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
    let kind = match (role, id) {
        (PolicyRole::Live, _) => "policy.activated",
        (PolicyRole::Shadow, Some(_)) => "policy.shadow_set",
        (PolicyRole::Shadow, None) => "policy.shadow_cleared",
    };
    crate::admin::audit(
        s,
        s.clock.now(),
        kind,
        by,
        json!({"id": id, "version": record.as_ref().map(|r| r.version.clone()), "via": via}),
    )
    .await?;
    activate_checked(s, role, id, by).await?;
    let roles = roles(store).await?;
    Ok(record.map(|r| view(r, &roles, false)))
}

/// Record the activation, then bring this node up to it at once (the other
/// nodes follow within `risk.reload_interval`; so does this one if the
/// immediate refresh fails, which is only logged).
async fn activate_checked(
    s: &AppState,
    role: PolicyRole,
    id: Option<i64>,
    by: &AccountName,
) -> ApiResult<()> {
    s.durable
        .activate_policy(role, id, by.as_str(), s.now())
        .await?;
    if let Err(e) = refresh_from(s.durable.as_ref(), &s.policies).await {
        tracing::warn!(error = %format!("{e:#}"), "the activation is stored; this node applies it at its next refresh");
    }
    Ok(())
}

/// A unified diff from `old` to `new` (3 lines of context), with the two
/// labels as file names; empty when they are the same. Bounded to a second
/// of work (a coarser diff after that).
pub fn diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(old, new)
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
