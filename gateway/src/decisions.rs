//! Recorded decisions for security teams: every reset start's `reset.started`
//! audit record, read back as a decision with its reasons; the analysts'
//! labels on them (confirmed attack or legitimate, audited as
//! `decision.labelled`, kept as the latest per decision in `decision_labels`
//! and exported with `audit export` for retraining); and the replay of the
//! last days' decisions under a candidate policy ([`crate::simulate`]).

use std::collections::HashMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::account::AccountName;
use crate::audit::AuditEvent;
use crate::http::error::{ApiError, ApiResult};
use crate::simulate::{Candidate, Report};
use crate::store::durable::{AuditRecord, Durable};

/// The audit kind of a decision.
pub const STARTED: &str = "reset.started";
/// The audit kind of an analyst's label.
pub const LABELLED: &str = "decision.labelled";
/// Records read per store call.
const PAGE: i64 = 500;

/// The `reset.started` records newest first, a page at a time: from
/// `before` (the newest when `None`) back to `since` (the oldest when
/// `None`). Shared by the decision list, the replay and the console.
pub struct Pages<'a> {
    store: &'a dyn Durable,
    since: Option<&'a str>,
    before: Option<i64>,
    done: bool,
    read: usize,
}

impl<'a> Pages<'a> {
    pub fn new(store: &'a dyn Durable, since: Option<&'a str>, before: Option<i64>) -> Self {
        Self {
            store,
            since,
            before,
            done: false,
            read: 0,
        }
    }

    /// The next (older) page; `None` when nothing older is left.
    pub async fn next(&mut self) -> ApiResult<Option<Vec<AuditRecord>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .audit_recent(Some(STARTED), self.before, self.since, PAGE)
            .await?;
        self.done = page.len() < usize::try_from(PAGE).unwrap_or(0);
        let Some(last) = page.last() else {
            return Ok(None);
        };
        self.before = Some(last.seq);
        self.read += page.len();
        Ok(Some(page))
    }

    /// Nothing older is left.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Records read so far.
    pub fn read(&self) -> usize {
        self.read
    }
}

/// What an analyst says a decision was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A confirmed attack.
    Attack,
    /// The account's owner.
    Legitimate,
}

/// One decision as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub seq: i64,
    pub at: String,
    pub account: String,
    pub flow_id: Value,
    pub level: Value,
    pub score: Value,
    pub reasons: Value,
    pub policy_version: Value,
    pub model_version: Value,
    pub address: Value,
    pub country: Value,
    pub asn: Value,
    /// The name is not an account (or is locked): a decoy flow.
    pub decoy: bool,
    /// The shadow policy's decision, when one was set.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub shadow: Value,
    /// The latest analyst label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
}

fn decision(record: &AuditRecord) -> DecisionView {
    let data: Value = serde_json::from_str(&record.data).unwrap_or(Value::Null);
    let geo = &data["signals"]["geo"];
    DecisionView {
        seq: record.seq,
        at: record.at.clone(),
        account: record.subject.clone(),
        flow_id: data["flow_id"].clone(),
        level: data["level"].clone(),
        score: data["score"].clone(),
        reasons: data["reasons"].clone(),
        policy_version: data["policy_version"].clone(),
        model_version: data["model_version"].clone(),
        address: data["address"].clone(),
        country: geo["country"].clone(),
        asn: geo["asn"].clone(),
        decoy: data["decoy"].as_bool().unwrap_or(false),
        shadow: data["shadow"].clone(),
        label: None,
    }
}

/// Which decisions to list.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Only this level.
    pub level: Option<risk::Level>,
    /// Only records numbered below this (paging: the last `seq` seen).
    pub before: Option<i64>,
    /// Only records at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only decisions where the shadow policy disagreed.
    pub shadow_disagrees: Option<bool>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// Put each decision's latest label on it (the `decision_labels` table).
async fn attach_labels(store: &dyn Durable, decisions: &mut [DecisionView]) -> ApiResult<()> {
    let seqs: Vec<i64> = decisions.iter().map(|d| d.seq).collect();
    let labels: HashMap<i64, Value> = store
        .labels(&seqs)
        .await?
        .into_iter()
        .map(|l| {
            let at = crate::time::rfc3339(crate::time::from_unix(l.labelled_at));
            (
                l.seq,
                json!({"label": l.label, "by": l.labelled_by, "at": at, "note": l.note}),
            )
        })
        .collect();
    for d in decisions {
        d.label = labels.get(&d.seq).cloned();
    }
    Ok(())
}

/// A page of decisions, and where the next (older) page starts.
#[derive(Debug, Serialize)]
pub struct Page {
    pub decisions: Vec<DecisionView>,
    /// `before` for the next page; `None` when the log has nothing older.
    pub next_before: Option<i64>,
}

/// Decisions, newest first, per `query`. Filters are applied while paging
/// back through the log, scanning at most 50,000 records per call; when
/// the page is short because of that, `next_before` says where to go on.
pub async fn list(store: &dyn Durable, query: &Query) -> ApiResult<Page> {
    let limit = usize::try_from(query.limit.unwrap_or(50).clamp(1, 500)).unwrap_or(50);
    let since = match &query.since {
        Some(text) => Some(since_text(text)?),
        None => None,
    };
    let mut out = Vec::new();
    let mut pages = Pages::new(store, since.as_deref(), query.before);
    // The last record looked at, and whether the page filled before the
    // records ran out.
    let (mut before, mut full) = (query.before, false);
    'pages: while pages.read() < 50_000 {
        let Some(page) = pages.next().await? else {
            break;
        };
        for record in &page {
            before = Some(record.seq);
            let d = decision(record);
            let level_ok = query
                .level
                .is_none_or(|l| d.level.as_str() == Some(l.as_str()));
            let shadow_ok = query
                .shadow_disagrees
                .is_none_or(|want| (d.shadow["agrees"] == Value::Bool(false)) == want);
            if level_ok && shadow_ok {
                out.push(d);
                if out.len() == limit {
                    full = true;
                    break 'pages;
                }
            }
        }
    }
    let exhausted = pages.done() && !full;
    attach_labels(store, &mut out).await?;
    Ok(Page {
        decisions: out,
        next_before: if exhausted { None } else { before },
    })
}

/// An RFC 3339 time as the audit log writes it (UTC, whole seconds).
fn since_text(text: &str) -> ApiResult<String> {
    let t = text
        .parse::<jiff::Timestamp>()
        .map_err(|e| ApiError::invalid(format!("since: not an RFC 3339 time: {e}")))?;
    Ok(t.round(
        jiff::TimestampRound::new()
            .smallest(jiff::Unit::Second)
            .mode(jiff::RoundMode::Trunc),
    )
    .unwrap_or(t)
    .to_string())
}

/// Label decision `seq` as `label` (audited as `decision.labelled`, subject
/// the decision's account, with who labelled it).
pub async fn label(
    s: &crate::app::AppState,
    by: &AccountName,
    seq: i64,
    label: Label,
    note: Option<&str>,
) -> ApiResult<Value> {
    let note = note.unwrap_or_default();
    if note.chars().count() > 500 {
        return Err(ApiError::invalid("note: at most 500 characters"));
    }
    let record = s
        .durable
        .audit_record(seq)
        .await?
        .filter(|r| r.kind == STARTED)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no decision (reset.started record) numbered {seq}"),
            )
        })?;
    let data = json!({"seq": seq, "label": label, "note": note, "by": by.as_str()});
    s.audit
        .record(AuditEvent::new(
            s.clock.now(),
            LABELLED,
            &record.subject,
            data.clone(),
        ))
        .await?;
    s.durable
        .set_label(&crate::store::durable::LabelRecord {
            seq,
            label: match label {
                Label::Attack => "attack",
                Label::Legitimate => "legitimate",
            }
            .to_owned(),
            note: note.to_owned(),
            labelled_by: by.to_string(),
            labelled_at: s.now(),
        })
        .await?;
    Ok(data)
}

/// Replay the decisions written at or after `since` (newest first, at most
/// `max_records`) under `candidate`; whether the cap cut the window short.
pub async fn simulate(
    store: &dyn Durable,
    candidate: &Candidate<'_>,
    since: &str,
    max_records: usize,
    report: &mut Report,
) -> ApiResult<bool> {
    let mut pages = Pages::new(store, Some(since), None);
    while let Some(page) = pages.next().await? {
        for record in page {
            crate::simulate::replay(candidate, &crate::audit::exported(record), report);
        }
        if pages.read() >= max_records && !pages.done() {
            return Ok(true);
        }
        // A long replay yields between pages.
        tokio::task::yield_now().await;
    }
    Ok(false)
}
