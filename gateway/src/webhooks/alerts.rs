//! Where the gateway raises alerts: small helpers for the places that audit an
//! event (reset start and completion, factor changes, the lock link), so each
//! builds its [`Event`] the same way.
//!
//! A spray (one address trying resets for many accounts) is reported once
//! per burst rather than with every attempt: the first attempt over the
//! policy's `address_accounts_1h` rule sets a marker for the address (or IPv6
//! /64) in the ephemeral store for the rule's window, and only the attempt
//! that set it raises `attack.spray_detected`, with its own audit record.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use risk::{Assessment, Signals};
use serde_json::json;

use super::Event;
use super::ocsf::{Source, Spray};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::signals::context::Context;
use crate::store::ephemeral::keys;

/// The velocity rule whose firing is a spray.
pub const SPRAY_RULE: &str = "address_accounts_1h";
/// How long one burst lasts: the window `address_accounts_1h` counts over.
pub const SPRAY_WINDOW: Duration = Duration::from_hours(1);
/// How long a burst is claimed by the node reporting it before its record
/// is committed (then [`SPRAY_WINDOW`]).
const SPRAY_CLAIM: Duration = Duration::from_secs(30);

/// `src_endpoint` of an attempt's context (an unparsable address, which the
/// context never holds, reads as `0.0.0.0`).
pub fn source(context: &Context) -> Source {
    Source {
        ip: context
            .ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        country: context.country.clone(),
        city: context.city.clone(),
    }
}

/// Whether the assessment says this address is spraying.
pub fn is_spray(assessment: &Assessment) -> bool {
    assessment
        .reasons
        .iter()
        .any(|r| r.code == SPRAY_RULE || r.code.strip_prefix("hard_limit:") == Some(SPRAY_RULE))
}

/// Report a spray once per burst, in the background: the attempt that trips
/// the detection answers as fast as any other (a sprayer cannot time when
/// it was noticed), and a failure is logged, never the attempt's.
pub fn spray(
    s: &AppState,
    context: &Context,
    bucket: &str,
    signals: &Signals,
    assessment: &Assessment,
    at: SystemTime,
) {
    if !is_spray(assessment) {
        return;
    }
    let (s, context, bucket) = (s.clone(), context.clone(), bucket.to_owned());
    let (distinct, assessment) = (signals.velocity.address_accounts_1h, assessment.clone());
    tokio::spawn(async move {
        report(&s, &context, &bucket, distinct, assessment, at).await;
    });
}

async fn report(
    s: &AppState,
    context: &Context,
    bucket: &str,
    distinct_accounts: u32,
    assessment: Assessment,
    at: SystemTime,
) {
    let finding = ulid::Ulid::new();
    let marker = keys::spray(bucket);
    // Claimed for a moment only until the record is committed, then for the
    // window: a node that dies in between (its task dropped) leaves a claim
    // that soon lapses, not an hour in which the burst goes unreported.
    let first = match s
        .ephemeral
        .put_new(&marker, finding.to_string().as_bytes(), SPRAY_CLAIM)
        .await
    {
        Ok(first) => first,
        Err(e) => {
            tracing::warn!(error = %e, "spray marker not written; the burst is not reported");
            return;
        }
    };
    if !first {
        return;
    }
    let spray = Spray {
        finding,
        source: source(context),
        distinct_accounts,
        window: SPRAY_WINDOW,
        first_seen: at,
        time: at,
        assessment: Some(assessment),
    };
    let alert = s.webhooks.message(&Event::SprayDetected(spray));
    let record = AuditEvent::new(
        at,
        "attack.spray_detected",
        context.ip.clone(),
        json!({
            "finding": finding.to_string(),
            "address": context.ip,
            "bucket": bucket,
            "distinct_accounts": distinct_accounts,
            "window_secs": SPRAY_WINDOW.as_secs(),
        }),
    )
    .with_alert(alert);
    if let Err(e) = s.audit.record(record).await {
        tracing::error!(error = %e, "spray detected but its audit record was not written");
        // The next attempt of the burst reports it instead.
        let _ = s.ephemeral.delete(&marker).await;
    } else {
        // Extended only while still this node's claim: one whose commit took
        // longer than the claim must not take over another node's marker.
        let claim = finding.to_string();
        let extended = s
            .ephemeral
            .compare_and_swap(&marker, claim.as_bytes(), claim.as_bytes(), SPRAY_WINDOW)
            .await;
        if let Err(e) = extended {
            // Reported; the burst may be reported again once the claim lapses.
            tracing::warn!(error = %e, "spray reported; its marker was not extended");
        }
    }
}
