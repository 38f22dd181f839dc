//! `/v1/admin…` for security teams: the risk policy's lifecycle
//! (`crate::policies`), recorded decisions and labels (`crate::decisions`),
//! the replay of a candidate policy (`crate::simulate`), the audit log, and
//! API keys (`crate::api_keys`). Reads need the `read` scope, changes the
//! `admin` scope, keys a signed-in person; every change is audited with who
//! made it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::{Admin, Person, Reader};
use super::error::{ApiError, ApiResult};
use super::json::{Body, Params, PathParam};
use crate::admin::audit;
use crate::api_keys;
use crate::app::AppState;
use crate::decisions::{self, Label};
use crate::policies;
use crate::simulate::Candidate;
use crate::store::durable::PolicyRole;

fn to_json(value: impl serde::Serialize) -> ApiResult<Json<Value>> {
    Ok(Json(
        serde_json::to_value(value).map_err(ApiError::internal)?,
    ))
}

// ---- policy ----

/// `GET /v1/admin/policy`: the live version with its text.
#[utoipa::path(
    get,
    path = "/v1/admin/policy",
    operation_id = "getPolicy",
    tag = "admin"
)]
pub async fn policy(State(s): State<AppState>, Reader(_): Reader) -> ApiResult<Json<Value>> {
    to_json(policies::live(s.durable.as_ref()).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyText {
    /// The policy file (TOML), at most 256 KiB.
    text: String,
    /// Why (kept with the version).
    #[schema(max_length = 500)]
    comment: Option<String>,
}

/// `PUT /v1/admin/policy`: validate, store and make live.
#[utoipa::path(
    put,
    path = "/v1/admin/policy",
    operation_id = "putPolicy",
    tag = "admin"
)]
pub async fn put_policy(
    State(s): State<AppState>,
    Admin(by): Admin,
    Body(req): Body<PolicyText>,
) -> ApiResult<Json<Value>> {
    store_policy(&s, &by, &req, true).await.map(Json)
}

/// `POST /v1/admin/policy/versions`: validate and store, not live.
#[utoipa::path(
    post,
    path = "/v1/admin/policy/versions",
    operation_id = "addPolicyVersion",
    tag = "admin"
)]
pub async fn add_version(
    State(s): State<AppState>,
    Admin(by): Admin,
    Body(req): Body<PolicyText>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(store_policy(&s, &by, &req, false).await?),
    ))
}

async fn store_policy(
    s: &AppState,
    by: &crate::account::AccountName,
    req: &PolicyText,
    activate: bool,
) -> ApiResult<Value> {
    let comment = req.comment.as_deref().unwrap_or_default();
    let view = policies::upload(s, by, &req.text, comment, activate, "api").await?;
    serde_json::to_value(view).map_err(ApiError::internal)
}

/// `POST /v1/admin/policy/validate`: would this text be accepted?
#[utoipa::path(
    post,
    path = "/v1/admin/policy/validate",
    operation_id = "validatePolicy",
    tag = "admin"
)]
pub async fn validate(Reader(_): Reader, Body(req): Body<PolicyText>) -> ApiResult<Json<Value>> {
    let policy = policies::validate(&req.text)?;
    Ok(Json(json!({"valid": true, "version": policy.version()})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PolicyDiffRequest)]
pub struct DiffRequest {
    /// A candidate text, compared with `from` (default: the live version).
    text: Option<String>,
    /// A stored version to compare from (default: the live one).
    from: Option<i64>,
    /// A stored version to compare to (instead of `text`).
    to: Option<i64>,
}

/// `POST /v1/admin/policy/diff`: a unified diff between two versions, or
/// between a version (the live one by default) and a candidate text.
#[utoipa::path(
    post,
    path = "/v1/admin/policy/diff",
    operation_id = "diffPolicy",
    tag = "admin"
)]
pub async fn diff(
    State(s): State<AppState>,
    Reader(_): Reader,
    Body(req): Body<DiffRequest>,
) -> ApiResult<Json<Value>> {
    let store = s.durable.as_ref();
    let from = match req.from {
        Some(id) => policies::version(store, id).await?,
        None => policies::live(store).await?,
    };
    let (to_label, to_text) = match (req.to, req.text) {
        (Some(id), None) => {
            let to = policies::version(store, id).await?;
            (
                format!("version {} ({})", to.id, to.version),
                to.text.unwrap_or_default(),
            )
        }
        (None, Some(text)) => {
            // A diff of a text that is not a valid policy still helps; the
            // verdict comes with it.
            (String::from("candidate"), text)
        }
        _ => return Err(ApiError::invalid("send either text or to")),
    };
    let from_text = from.text.clone().unwrap_or_default();
    let verdict = match policies::validate(&to_text) {
        Ok(p) => json!({"valid": true, "version": p.version()}),
        Err(e) => json!({"valid": false, "message": e.message}),
    };
    Ok(Json(json!({
        "from": {"id": from.id, "version": from.version},
        "to": to_label,
        "candidate": verdict,
        "diff": policies::diff(
            &from_text,
            &to_text,
            &format!("version {} ({})", from.id, from.version),
            &to_label,
        ),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    limit: Option<i64>,
}

/// `GET /v1/admin/policy/versions`: newest first, without text.
#[utoipa::path(
    get,
    path = "/v1/admin/policy/versions",
    operation_id = "listPolicyVersions",
    tag = "admin"
)]
pub async fn versions(
    State(s): State<AppState>,
    Reader(_): Reader,
    Params(q): Params<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let limit = super::json::page_limit(q.limit, 100, 500)?;
    let list = policies::versions(s.durable.as_ref(), limit).await?;
    Ok(Json(json!({"versions": list})))
}

/// `GET /v1/admin/policy/versions/{id}`: one version with its text.
#[utoipa::path(
    get,
    path = "/v1/admin/policy/versions/{id}",
    operation_id = "getPolicyVersion",
    tag = "admin"
)]
pub async fn version(
    State(s): State<AppState>,
    Reader(_): Reader,
    PathParam(id): PathParam<i64>,
) -> ApiResult<Json<Value>> {
    to_json(policies::version(s.durable.as_ref(), id).await?)
}

/// `POST /v1/admin/policy/versions/{id}/activate`: make it live (a rollback
/// is the activation of an earlier version).
#[utoipa::path(
    post,
    path = "/v1/admin/policy/versions/{id}/activate",
    operation_id = "activatePolicyVersion",
    tag = "admin"
)]
pub async fn activate(
    State(s): State<AppState>,
    Admin(by): Admin,
    PathParam(id): PathParam<i64>,
) -> ApiResult<Json<Value>> {
    to_json(policies::set(&s, PolicyRole::Live, Some(id), &by, "api").await?)
}

/// `GET /v1/admin/policy/shadow`: the shadow candidate, and the recent
/// decisions it disagreed with.
#[utoipa::path(
    get,
    path = "/v1/admin/policy/shadow",
    operation_id = "getShadowPolicy",
    tag = "admin"
)]
pub async fn shadow(
    State(s): State<AppState>,
    Reader(_): Reader,
    Params(q): Params<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let limit = super::json::page_limit(q.limit, 50, 500)?;
    let store = s.durable.as_ref();
    let activation = store.policy_activation(PolicyRole::Shadow).await?;
    let Some((activation, id)) = activation.and_then(|a| a.version_id.map(|id| (a, id))) else {
        return Ok(Json(json!({"shadow": null, "disagreements": []})));
    };
    let since = crate::time::rfc3339(crate::time::from_unix(activation.activated_at));
    let page = decisions::list(
        store,
        &decisions::Query {
            since: Some(since.clone()),
            shadow_disagrees: Some(true),
            limit: Some(limit),
            ..decisions::Query::default()
        },
    )
    .await?;
    // Only this shadow's verdicts (a node may still have recorded the
    // previous one's for a moment).
    let disagreements: Vec<_> = page
        .decisions
        .into_iter()
        .filter(|d| d.shadow["version_id"] == id)
        .collect();
    Ok(Json(json!({
        "shadow": policies::version(store, id).await?,
        "since": since,
        "activated_by": activation.activated_by,
        "disagreements": disagreements,
        "next_before": page.next_before,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowRequest {
    /// The stored version to evaluate beside the live one.
    id: i64,
}

/// `PUT /v1/admin/policy/shadow`: evaluate version `id` beside the live one.
#[utoipa::path(
    put,
    path = "/v1/admin/policy/shadow",
    operation_id = "putShadowPolicy",
    tag = "admin"
)]
pub async fn put_shadow(
    State(s): State<AppState>,
    Admin(by): Admin,
    Body(req): Body<ShadowRequest>,
) -> ApiResult<Json<Value>> {
    to_json(set_shadow(&s, &by, Some(req.id)).await?)
}

/// `DELETE /v1/admin/policy/shadow`: stop the shadow evaluation.
#[utoipa::path(
    delete,
    path = "/v1/admin/policy/shadow",
    operation_id = "deleteShadowPolicy",
    tag = "admin"
)]
pub async fn delete_shadow(State(s): State<AppState>, Admin(by): Admin) -> ApiResult<StatusCode> {
    set_shadow(&s, &by, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_shadow(
    s: &AppState,
    by: &crate::account::AccountName,
    id: Option<i64>,
) -> ApiResult<Option<policies::VersionView>> {
    policies::set(s, PolicyRole::Shadow, id, by, "api").await
}

// ---- replay ----

/// Replays running at once on this node.
static SIMULATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
/// Decisions replayed at most per call (the newest of the window).
const MAX_REPLAYED: usize = 200_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// A candidate policy text …
    policy: Option<String>,
    /// … or a stored version.
    version_id: Option<i64>,
    /// Replay the decisions of the last `days` (default 30, at most 366).
    #[schema(minimum = 1, maximum = 366)]
    days: Option<u32>,
    /// Show at most this many changed attempts (default 100, at most 1000).
    #[schema(maximum = 1000)]
    changes: Option<usize>,
}

/// `POST /v1/admin/simulate`: the last days' decisions replayed under a
/// candidate policy: the shift matrix, the changed attempts with their
/// reasons, the extra step-ups and blocks.
#[utoipa::path(
    post,
    path = "/v1/admin/simulate",
    operation_id = "simulate",
    tag = "admin"
)]
pub async fn simulate(
    State(s): State<AppState>,
    Reader(_): Reader,
    Body(req): Body<SimulateRequest>,
) -> ApiResult<Json<Value>> {
    let text = match (req.policy, req.version_id) {
        (Some(text), None) => text,
        (None, Some(id)) => policies::version(s.durable.as_ref(), id)
            .await?
            .text
            .unwrap_or_default(),
        _ => {
            return Err(ApiError::invalid(
                "send either policy (a text) or version_id",
            ));
        }
    };
    let policy = policies::validate(&text)?;
    let days = req.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid("days: 1 to 366"));
    }
    let since = crate::time::rfc3339(
        s.clock.now() - std::time::Duration::from_secs(u64::from(days) * 86_400),
    );
    let candidate = Candidate {
        policy: &policy,
        model: None,
    };
    let changes = req.changes.unwrap_or(100);
    if changes > 1000 {
        return Err(ApiError::invalid("changes: at most 1000"));
    }
    let mut report = crate::simulate::Report {
        keep: Some(changes),
        ..crate::simulate::Report::default()
    };
    // One replay at a time per node: it is CPU work on the request's worker.
    let Ok(_one) = SIMULATIONS.try_acquire() else {
        return Err(ApiError::too_many(
            "simulation_running",
            "another replay is running on this node; try again shortly",
            5,
        ));
    };
    let truncated = decisions::simulate(
        s.durable.as_ref(),
        &candidate,
        &since,
        MAX_REPLAYED,
        &mut report,
    )
    .await?;
    let mut matrix = serde_json::Map::new();
    for old in risk::Level::ALL {
        let row: serde_json::Map<String, Value> = risk::Level::ALL
            .iter()
            .map(|new| {
                let n = report.matrix.get(&(old, *new)).copied().unwrap_or(0);
                (new.as_str().to_owned(), Value::from(n))
            })
            .collect();
        matrix.insert(old.as_str().to_owned(), Value::Object(row));
    }
    Ok(Json(json!({
        "policy_version": policy.version(),
        "since": since,
        "replayed": report.replayed,
        "truncated": truncated,
        "skipped": report.skipped,
        "matrix": matrix,
        "changed": report.changed(),
        "extra_step_ups": report.extra_step_ups(),
        "extra_blocks": report.extra_blocks(),
        "step_downs": report.step_downs(),
        "reasons": report.moved_reasons,
        "changes": report.shifts,
    })))
}

// ---- decisions and audit ----

/// `GET /v1/admin/decisions`: recorded decisions, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/decisions",
    operation_id = "listDecisions",
    tag = "admin"
)]
pub async fn decisions(
    State(s): State<AppState>,
    Reader(_): Reader,
    Params(mut q): Params<decisions::Query>,
) -> ApiResult<Json<Value>> {
    q.limit = Some(super::json::page_limit(q.limit, 50, 500)?);
    to_json(decisions::list(s.durable.as_ref(), &q).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelRequest {
    label: Label,
    #[schema(max_length = 500)]
    note: Option<String>,
}

/// `POST /v1/admin/decisions/{id}/label` (`id`: the decision's `seq`): an analyst's verdict.
#[utoipa::path(
    post,
    path = "/v1/admin/decisions/{id}/label",
    operation_id = "labelDecision",
    tag = "admin"
)]
pub async fn label(
    State(s): State<AppState>,
    Admin(by): Admin,
    PathParam(seq): PathParam<i64>,
    Body(req): Body<LabelRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        decisions::label(&s, &by, seq, req.label, req.note.as_deref()).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    kind: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /v1/admin/audit`: records newest first (`data` as JSON).
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    operation_id = "listAudit",
    tag = "admin"
)]
pub async fn audit_log(
    State(s): State<AppState>,
    Reader(_): Reader,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let records = s
        .durable
        .audit_recent(
            q.kind.as_deref(),
            q.before,
            None,
            super::json::page_limit(q.limit, 100, 1000)?,
        )
        .await?;
    let records: Vec<Value> = records.into_iter().map(crate::audit::exported).collect();
    Ok(Json(json!({"records": records})))
}

/// `GET /v1/admin/audit/verify`: walk the hash chain.
#[utoipa::path(
    get,
    path = "/v1/admin/audit/verify",
    operation_id = "verifyAudit",
    tag = "admin"
)]
pub async fn audit_verify(State(s): State<AppState>, Reader(_): Reader) -> ApiResult<Json<Value>> {
    Ok(Json(
        match crate::audit::verify(s.durable.as_ref(), &s.key).await? {
            crate::audit::Verdict::Intact { count, head } => {
                json!({"intact": true, "records": count, "head": head})
            }
            crate::audit::Verdict::Broken { seq, problem } => {
                json!({"intact": false, "broken_at": seq, "problem": problem})
            }
        },
    ))
}

// ---- API keys ----

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewApiKey)]
pub struct NewKey {
    /// Letters, digits, `-`, `_` and `.`; unique among keys in use.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: String,
    /// `evaluate`, `read`, `admin`; at least one.
    #[schema(min_items = 1)]
    scopes: Vec<String>,
}

/// `POST /v1/admin/api-keys`: the key is in this answer only.
#[utoipa::path(
    post,
    path = "/v1/admin/api-keys",
    operation_id = "createApiKey",
    tag = "admin"
)]
pub async fn create_key(
    State(s): State<AppState>,
    Person(by): Person,
    Body(req): Body<NewKey>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scopes = api_keys::scopes_from(&req.scopes)?;
    let (view, key) =
        api_keys::create(s.durable.as_ref(), &req.name, &scopes, by.as_str(), s.now()).await?;
    // The key exists from here and is shown only in this answer.
    crate::admin::audit_kept(
        &s,
        s.clock.now(),
        "api_key.created",
        &by,
        json!({"id": view.id, "name": view.name, "scopes": view.scopes}),
    )
    .await;
    let mut body = serde_json::to_value(view).map_err(ApiError::internal)?;
    body["key"] = Value::String(key);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /v1/admin/api-keys`.
#[utoipa::path(
    get,
    path = "/v1/admin/api-keys",
    operation_id = "listApiKeys",
    tag = "admin"
)]
pub async fn list_keys(State(s): State<AppState>, Person(_): Person) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"api_keys": api_keys::list(s.durable.as_ref()).await?}),
    ))
}

/// `DELETE /v1/admin/api-keys/{id}`: revoked at once on every node.
#[utoipa::path(
    delete,
    path = "/v1/admin/api-keys/{id}",
    operation_id = "revokeApiKey",
    tag = "admin"
)]
pub async fn revoke_key(
    State(s): State<AppState>,
    Person(by): Person,
    PathParam(id): PathParam<String>,
) -> ApiResult<StatusCode> {
    api_keys::revoke(s.durable.as_ref(), &id, s.now()).await?;
    audit(&s, s.clock.now(), "api_key.revoked", &by, json!({"id": id})).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- built-in directory ----

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUser)]
pub struct NewUserRequest {
    #[schema(schema_with = crate::http::openapi::username)]
    username: String,
    /// The initial password (the password rules apply).
    #[schema(format = Password)]
    password: String,
    email: Option<String>,
    /// E.164; an administrator-provisioned SMS factor.
    phone: Option<String>,
}

/// `POST /v1/admin/users`: an account in the built-in directory.
#[utoipa::path(
    post,
    path = "/v1/admin/users",
    operation_id = "createUser",
    tag = "admin"
)]
pub async fn create_user(
    State(s): State<AppState>,
    Admin(by): Admin,
    Body(req): Body<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = crate::account::AccountName::parse(&req.username)
        .map_err(|e| ApiError::invalid(format!("username: {e}")))?;
    let user = crate::directory::provision::NewUser {
        name: name.clone(),
        password: crate::reset_core::password::normalize(&req.password),
        email: req.email.filter(|e| !e.trim().is_empty()),
        phone: req.phone.filter(|p| !p.trim().is_empty()),
    };
    let masked = user.phone.as_deref().map(crate::factors::sms::mask);
    let email = user.email.clone();
    crate::directory::provision::add(&s, &by, user).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"username": name.as_str(), "email": email, "phone": masked})),
    ))
}
