//! The reset core: once the factors are passed, set the new password.
//!
//! Order matters and is the point of this module:
//! 1. the flow is verified and the token matches (constant time); the try is
//!    counted in the flow by compare-and-swap before the password is looked
//!    at (at most `MAX_PASSWORD_TRIES` per flow, then it locks: a refusal
//!    that says `reused` must not become an oracle for the current password);
//! 2. the password passes every rule (NIST SP 800-63B-4 §3.1.1.2: length,
//!    common and breached lists, username and context words, history) — all
//!    checked before anything is written, so a refusal changes nothing and the
//!    token stays usable;
//! 3. the flow moves `Verified → Completing` by compare-and-swap: of two
//!    concurrent completes with one token exactly one gets past this line;
//!    then the account's completion lease is taken (one completion of an
//!    account at a time) and, under it, the flow is checked again for a
//!    reset of the account completed since it started (`flow_superseded`);
//! 4. the directory write; on failure the flow returns to `Verified`;
//! 5. `Done`; the account's sessions are revoked, every channel of the account
//!    hears of it, and the audit record is written.
//!
//! Steps 3 to 5 run in a task of their own, awaited by the request: a client
//! that goes away, or a proxy that gives up, does not cut the reset between
//! the directory write and its announcements. Once the directory has taken
//! the password, nothing turns the answer into a failure: a flow that cannot
//! be marked `Done` is logged, and the announcements go out all the same.

pub mod password;

use axum::http::StatusCode;
use serde_json::json;

use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto;
use crate::directory::DirectoryError;
use crate::flow::service::{self, token_mac};
use crate::flow::{Flow, FlowError, State};
use crate::http::error::{ApiError, ApiResult};
use crate::notify::{self, Notice};
use crate::store::ephemeral::keys;
use crate::webhooks::{Event, alerts, ocsf};

/// Longest password body accepted before any processing, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Words that may not appear in a password besides the username.
pub const CONTEXT_WORDS: &[&str] = &["resetgate"];

/// Complete the reset of `flow_id` with `new_password`.
pub async fn complete(
    s: &AppState,
    flow_id: &str,
    reset_token: &str,
    new_password: &str,
) -> ApiResult<()> {
    if new_password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid("new_password is too long"));
    }
    let (flow, raw) = service::load(s, flow_id).await?;
    let now = s.now();
    flow.check_live(now)?;
    let token_ok = flow.token_mac.as_ref().is_some_and(|m| {
        crypto::ct_eq(m.as_bytes(), token_mac(s, &flow.id, reset_token).as_bytes())
    });
    match flow.state {
        State::Verified if token_ok && !flow.decoy => {}
        State::Verified => {
            return Err(ApiError::bad_request(
                "invalid_token",
                "the reset token is not valid",
            ));
        }
        _ => {
            let mut probe = flow.clone();
            return Err(probe
                .begin_complete(now)
                .err()
                .unwrap_or(FlowError::TokenUsed)
                .into());
        }
    }
    // Another reset of the account completed since this one started: its
    // new password stands (OWASP: a reset invalidates the others' tokens).
    if crate::session::password_changed_since(s, &flow.account, flow.created_at).await? {
        return Err(FlowError::Superseded.into());
    }
    // Counted before the password is looked at, by compare-and-swap, so that
    // tries in parallel are each counted; past the limit the flow locks.
    let mut tried = flow;
    let counted = tried.count_password_try();
    service::save(s, &raw, &tried).await.map_err(lost_race)?;
    if let Err(locked) = counted {
        let data = json!({"flow_id": tried.id, "reason": "password_tries"});
        let event = AuditEvent::new(s.clock.now(), "reset.locked", &tried.account, data);
        s.audit.record(event).await?;
        return Err(locked.into());
    }
    let raw = serde_json::to_vec(&tried).map_err(ApiError::internal)?;
    let flow = tried;

    let name = AccountName::parse(&flow.account).map_err(ApiError::internal)?;
    let password = password::normalize(new_password);
    if let Err(refusal) = check_password(s, &name, &password).await {
        if refusal.code == "password_rejected" {
            let data = json!({
                "flow_id": flow.id,
                "reasons": refusal.reasons(),
                "tries_left": crate::flow::MAX_PASSWORD_TRIES.saturating_sub(flow.password_tries),
            });
            let event = AuditEvent::new(
                s.clock.now(),
                "reset.password_rejected",
                name.as_str(),
                data,
            );
            s.audit.record(event).await?;
        }
        return Err(refusal);
    }

    // The owner locked the account's resets (a "this wasn't me" link) after
    // this flow was verified: it cannot complete.
    if s.durable.account_lock(name.as_str()).await?.is_some() {
        return Err(FlowError::Denied.into());
    }
    let task = tokio::spawn(change(s.clone(), name, flow, raw, password));
    task.await.map_err(ApiError::internal)?
}

/// Another request changed the flow first: with one token, that is another
/// complete (the token is being used). A store that cannot answer is a 503
/// (the token still works), not a used token.
fn lost_race(e: ApiError) -> ApiError {
    if e.status == StatusCode::CONFLICT {
        ApiError::from(FlowError::TokenUsed)
    } else {
        e
    }
}

/// Steps 3 to 5 (see the module docs), in a task of their own.
async fn change(
    s: AppState,
    name: AccountName,
    flow: Flow,
    raw: Vec<u8>,
    password: String,
) -> ApiResult<()> {
    let s = &s;
    let mut completing = flow;
    completing.begin_complete(s.now())?;
    // Lost the compare-and-swap: another complete got there first.
    service::save(s, &raw, &completing)
        .await
        .map_err(lost_race)?;
    let raw_completing = serde_json::to_vec(&completing).map_err(ApiError::internal)?;

    // One reset of an account changes its password at a time, and only if no
    // other completed since this one started (checked again here, under the
    // lease: two verified flows completing at once cannot both pass).
    let lease = keys::completing(name.as_str());
    if let Err(e) = take_lease(s, &lease, &completing).await {
        let mut back = completing.clone();
        back.state = State::Verified;
        service::save(s, &raw_completing, &back).await?;
        return Err(e);
    }
    let result = change_under_lease(s, &name, completing, raw_completing, &password).await;
    if let Err(e) = s.ephemeral.delete(&lease).await {
        tracing::warn!(error = %e, "the completion lease was not released; it lapses by itself");
    }
    result
}

/// How long a completion holds the account's lease at most (a node that
/// dies holding it blocks the account's completes no longer than this).
const COMPLETE_LEASE: std::time::Duration = std::time::Duration::from_mins(1);

/// Take the account's completion lease, then check that no reset completed
/// since `flow` started; on any refusal the lease is given back.
async fn take_lease(s: &AppState, lease: &str, flow: &Flow) -> ApiResult<()> {
    if !s
        .ephemeral
        .put_new(lease, flow.id.as_bytes(), COMPLETE_LEASE)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "flow_busy",
            "another reset of this account is completing; try again",
        ));
    }
    let superseded =
        crate::session::password_changed_since(s, &flow.account, flow.created_at).await;
    if !matches!(superseded, Ok(false)) {
        let _ = s.ephemeral.delete(lease).await;
    }
    if superseded? {
        return Err(FlowError::Superseded.into());
    }
    Ok(())
}

/// [`change`] once the lease is held: the audit intent, the directory write,
/// `Done` and the announcements.
async fn change_under_lease(
    s: &AppState,
    name: &AccountName,
    completing: Flow,
    raw_completing: Vec<u8>,
    password: &str,
) -> ApiResult<()> {
    // The audit log learns of the change before it happens: if this record
    // cannot be committed nothing changes (503, the token still works), and a
    // change cut short afterwards (a node dying, the shutdown grace running
    // out, the durable store failing before `reset.completed`) still leaves
    // its trace.
    let intent = AuditEvent::new(
        s.clock.now(),
        "reset.completing",
        name.as_str(),
        json!({"flow_id": completing.id, "address": completing.address}),
    );
    if let Err(e) = s.audit.record(intent).await {
        let mut back = completing.clone();
        back.state = State::Verified;
        service::save(s, &raw_completing, &back).await?;
        return Err(ApiError::unavailable(e));
    }

    if let Err(e) = s.directory.set_password(name, password).await {
        let mut back = completing.clone();
        back.state = State::Verified;
        service::save(s, &raw_completing, &back).await?;
        return Err(match e {
            DirectoryError::Rejected(reason) => {
                let data = json!({"flow_id": completing.id, "reasons": ["directory_policy"], "detail": reason});
                let event = AuditEvent::new(
                    s.clock.now(),
                    "reset.password_rejected",
                    name.as_str(),
                    data,
                );
                s.audit.record(event).await?;
                rejected(vec!["directory_policy".into()]).with("detail", reason)
            }
            DirectoryError::Disabled => FlowError::Denied.into(),
            DirectoryError::Unavailable(_) => ApiError::unavailable(e),
        });
    }
    let mut done = completing;
    done.state = State::Done;
    done.token_mac = None;
    // The password has changed: a flow left `Completing` answers `token_used`
    // to a retry, which is right; the announcements must go out regardless.
    if let Err(e) = service::save(s, &raw_completing, &done).await {
        tracing::error!(
            error = %e.code,
            flow_id = %done.id,
            "reset completed but its flow could not be marked done; announcing it all the same"
        );
    }
    announce(s, name, &done).await
}

/// After the password changed: sessions end, the history learns of the
/// owner's context, the owner hears of it, the audit log and the SOC too.
async fn announce(s: &AppState, name: &AccountName, done: &Flow) -> ApiResult<()> {
    // The password has changed: whatever follows must not turn this into an
    // error the person would retry. Sessions end, the owner hears of it, and
    // an audit failure is logged loudly rather than answered as a failure.
    if let Err(e) = crate::session::revoke_all(s, name).await {
        tracing::error!(error = ?e.code, "reset completed but the account's sessions were not revoked");
    }
    // The owner's context joins the history and the device is bound.
    let success = done.context.success(name.as_str(), "reset", s.now());
    if let Err(e) = s.durable.record_success(&success).await {
        tracing::error!(error = %e, "reset completed but its history record was not written");
    }
    crate::metrics::reset_completed();
    notify::send(s, name, Notice::PasswordReset, &[], None, &done.context).await;
    let at = s.clock.now();
    let alert = s.webhooks.message(&Event::ResetCompleted(ocsf::Attempt {
        user: name.clone(),
        source: alerts::source(&done.context),
        assessment: done.assessment(),
        time: at,
    }));
    let event = AuditEvent::new(
        at,
        "reset.completed",
        name.as_str(),
        json!({
            "flow_id": done.id, "address": done.address, "level": done.level, "factors": done.passed,
        }),
    )
    .with_alert(alert);
    // Kept by the writer through failed commits: the change cannot be undone,
    // so its record and the SOC's event must land, later if not now.
    if let Err(e) = s.audit.keep(event).await {
        tracing::error!(error = %e, flow_id = %done.id, "reset completed but its audit record is not committed yet; the writer keeps trying");
    }
    Ok(())
}

/// Every rule, all reasons at once (`reused` only when none other applies);
/// nothing is written.
async fn check_password(s: &AppState, name: &AccountName, password: &str) -> ApiResult<()> {
    let mut reasons: Vec<String> = s
        .passwords
        .check(password, name.as_str(), CONTEXT_WORDS)
        .iter()
        .map(|r| r.code().to_owned())
        .collect();
    // The directory's own minimum (e.g. ppolicy's pwdMinLength), before
    // anything is written rather than as a refusal from the write.
    if let Some(min) = s.directory.min_password_length().await?
        && password.chars().count() < min
        && !reasons.iter().any(|r| r == "too_short")
    {
        reasons.push("too_short".into());
    }
    // Compared with the account's current and recent passwords only when
    // every other rule passes: a guess that fails them learns nothing of the
    // current password, and costs no password hashing.
    if reasons.is_empty() && s.directory.reused(name, password).await? {
        reasons.push("reused".into());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(rejected(reasons))
    }
}

fn rejected(reasons: Vec<String>) -> ApiError {
    let message = format!("choose another password: {}", reasons.join(", "));
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "password_rejected",
        message,
    )
    .with("reasons", reasons)
}
