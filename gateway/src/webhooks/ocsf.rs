//! The OCSF events in a webhook's `data`, targeting **OCSF 1.7.0** (released
//! 2025-11-14; <https://schema.ocsf.io/1.7.0>).
//!
//! | webhook type            | OCSF class (`class_uid`) | activity (`activity_id`)           | `type_uid`      |
//! |-------------------------|--------------------------|------------------------------------|-----------------|
//! | `risk.high`             | Authentication (3002)    | Other (99), "Reset Attempt"        | 300299          |
//! | `reset.denied`          | Authentication (3002)    | Other (99), "Reset Attempt"        | 300299          |
//! | `reset.completed`       | Account Change (3001)    | Password Reset (4)                 | 300104          |
//! | `factor.changed`        | Account Change (3001)    | MFA Factor Enable (10) / Disable (11) | 300110 / 300111 |
//! | `account.locked`        | Account Change (3001)    | Lock (9)                           | 300109          |
//! | `attack.spray_detected` | Detection Finding (2004) | Create (1)                         | 200401          |
//!
//! Why these: a reset attempt asks to prove an identity but opens no session, so
//! it is Authentication with activity Other rather than Logon (which would feed
//! failed-logon rules with something that is not a logon). A lock is an account
//! state change with its own Account Change activity, so `account.locked` is that
//! rather than a finding; a spray is a detection over many attempts, so a
//! Detection Finding whose evidence is the source address. Activity ids are from
//! the schema's `events/iam/account_change.json` (Lock 9 since 1.0, MFA Factor
//! Enable/Disable 10/11 since 1.1, names and `auth_factors` as of 1.7.0) and
//! `auth_factor.factor_type_id` (SMS 1, OTP 7, Email 8, WebAuthn 10).
//!
//! Severity: from the assessment's level where there is one (low → Informational 1,
//! medium → Low 2, high → Medium 3, deny → High 4); otherwise fixed per event
//! (see each builder).
//!
//! **Where the assessment goes.** `data` is the OCSF event and nothing else at
//! the top level, so it validates against the 1.7.0 schema as is (a strict
//! consumer such as a data lake rejects unknown attributes). The assessment
//! (score, level, reasons with code/weight/detail, policy and model versions)
//! goes in `data.unmapped.assessment`: `unmapped` is OCSF's place for what a
//! source reports beyond the schema. Events that do not come from a scored attempt
//! (`factor.changed`, `account.locked`, a spray without one) have no `unmapped`.
//!
//! **Nothing secret.** The builders take only typed, non-secret values: an
//! [`AccountName`], an address and its GeoIP country/city, a [`risk::Assessment`],
//! a factor *kind*, enums and times. No input carries a code, token, password,
//! phone number or flow id, so none can reach a SOC; `ocsf/tests.rs` walks every
//! event for keys that would.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use risk::{Assessment, Factor, Level};
use serde_json::{Map, Value, json};

use crate::account::AccountName;
use crate::signals::geo::GeoInfo;
use crate::time::unix_millis;
use crate::webhooks::EventType;

/// The OCSF schema version in every event's `metadata.version`.
pub const OCSF_VERSION: &str = "1.7.0";

/// Who reports the events: `metadata.product` (its `name` is always `resetgate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    pub vendor_name: String,
    pub version: String,
}

impl Default for Producer {
    fn default() -> Self {
        Self {
            vendor_name: "resetgate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Where an attempt came from: `src_endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub ip: IpAddr,
    /// ISO 3166-1 alpha-2, as the City database gives it.
    pub country: Option<String>,
    /// English city name.
    pub city: Option<String>,
}

impl Source {
    pub fn new(ip: IpAddr, geo: &GeoInfo) -> Self {
        Self {
            ip,
            country: geo.country.clone(),
            city: geo.city.clone(),
        }
    }
}

/// One scored reset attempt (`risk.high`, `reset.denied`, `reset.completed`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub user: AccountName,
    pub source: Source,
    pub assessment: Assessment,
    pub time: SystemTime,
}

/// `factor.changed`.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorChange {
    pub user: AccountName,
    pub factor: Factor,
    pub enabled: bool,
    pub source: Option<Source>,
    pub time: SystemTime,
}

/// Why an account was locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReason {
    /// Too many failed factor checks (Medium).
    TooManyFailures,
    /// The owner followed a "was this you?" lock link (High: likely takeover).
    ReportedByOwner,
    /// An administrator locked it (Low).
    Admin,
}

/// `account.locked`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lock {
    pub user: AccountName,
    pub reason: LockReason,
    pub source: Option<Source>,
    pub time: SystemTime,
}

/// `attack.spray_detected`: one address tried resets for many accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Spray {
    /// The finding's id (`finding_info.uid`), stable across updates of it.
    pub finding: ulid::Ulid,
    pub source: Source,
    pub distinct_accounts: u32,
    pub window: Duration,
    pub first_seen: SystemTime,
    pub time: SystemTime,
    /// The assessment of the attempt that tripped the detection, if any.
    pub assessment: Option<Assessment>,
}

/// Every event the gateway sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    RiskHigh(Attempt),
    ResetDenied(Attempt),
    ResetCompleted(Attempt),
    FactorChanged(FactorChange),
    SprayDetected(Spray),
    AccountLocked(Lock),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Self::RiskHigh(_) => EventType::RiskHigh,
            Self::ResetDenied(_) => EventType::ResetDenied,
            Self::ResetCompleted(_) => EventType::ResetCompleted,
            Self::FactorChanged(_) => EventType::FactorChanged,
            Self::SprayDetected(_) => EventType::SprayDetected,
            Self::AccountLocked(_) => EventType::AccountLocked,
        }
    }

    /// When it happened.
    pub fn time(&self) -> SystemTime {
        match self {
            Self::RiskHigh(a) | Self::ResetDenied(a) | Self::ResetCompleted(a) => a.time,
            Self::FactorChanged(f) => f.time,
            Self::SprayDetected(s) => s.time,
            Self::AccountLocked(l) => l.time,
        }
    }

    /// The assessment's level, for an endpoint's `min_level`.
    pub fn level(&self) -> Option<Level> {
        match self {
            Self::RiskHigh(a) | Self::ResetDenied(a) | Self::ResetCompleted(a) => {
                Some(a.assessment.level)
            }
            Self::SprayDetected(s) => s.assessment.as_ref().map(|a| a.level),
            Self::FactorChanged(_) | Self::AccountLocked(_) => None,
        }
    }

    /// The OCSF event (with the assessment under `unmapped`).
    pub fn to_ocsf(&self, producer: &Producer) -> Value {
        match self {
            Self::RiskHigh(a) => authentication(a, false, producer),
            Self::ResetDenied(a) => authentication(a, true, producer),
            Self::ResetCompleted(a) => password_reset(a, producer),
            Self::FactorChanged(f) => factor_changed(f, producer),
            Self::SprayDetected(s) => spray_detected(s, producer),
            Self::AccountLocked(l) => account_locked(l, producer),
        }
    }
}

/// An OCSF event class and its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub uid: u32,
    pub name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
}

const IAM: &str = "Identity & Access Management";
pub const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
    category_uid: 3,
    category_name: IAM,
};
pub const ACCOUNT_CHANGE: Class = Class {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    category_name: IAM,
};
pub const DETECTION_FINDING: Class = Class {
    uid: 2004,
    name: "Detection Finding",
    category_uid: 2,
    category_name: "Findings",
};

/// The base event's required attributes, then the class's, then those of the
/// objects they name.
const IAM_REQUIRED: [&str; 10] = [
    "activity_id",
    "category_uid",
    "class_uid",
    "metadata",
    "metadata.product",
    "metadata.version",
    "severity_id",
    "time",
    "type_uid",
    "user",
];
const FINDING_REQUIRED: [&str; 11] = [
    "activity_id",
    "category_uid",
    "class_uid",
    "metadata",
    "metadata.product",
    "metadata.version",
    "severity_id",
    "time",
    "type_uid",
    "finding_info",
    "finding_info.uid",
];

/// The attributes OCSF 1.7.0 marks **required** for a class, dotted for nested
/// objects: the base event's, the class's own, and the required attributes of
/// the objects they name (`metadata`: `product`, `version`; `finding_info`: `uid`).
/// Empty for a class not built here.
pub fn required_fields(class_uid: u32) -> &'static [&'static str] {
    match class_uid {
        3001 | 3002 => &IAM_REQUIRED,
        2004 => &FINDING_REQUIRED,
        _ => &[],
    }
}

/// `severity_id` and its caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    Informational = 1,
    Low = 2,
    Medium = 3,
    High = 4,
}

impl Severity {
    fn of(level: Level) -> Self {
        match level {
            Level::Low => Self::Informational,
            Level::Medium => Self::Low,
            Level::High => Self::Medium,
            Level::Deny => Self::High,
        }
    }

    fn caption(self) -> &'static str {
        match self {
            Self::Informational => "Informational",
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
        }
    }
}

/// The attributes every event has.
fn base(
    class: Class,
    activity: (u32, &str),
    severity: Severity,
    time: SystemTime,
    producer: &Producer,
    message: &str,
) -> Map<String, Value> {
    let (activity_id, activity_name) = activity;
    let json = json!({
        "category_uid": class.category_uid,
        "category_name": class.category_name,
        "class_uid": class.uid,
        "class_name": class.name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class.uid * 100 + activity_id,
        "type_name": format!("{}: {activity_name}", class.name),
        "severity_id": severity as u8,
        "severity": severity.caption(),
        "time": unix_millis(time),
        "timezone_offset": 0,
        "message": message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "resetgate",
                "vendor_name": producer.vendor_name,
                "version": producer.version,
            },
        },
    });
    let Value::Object(map) = json else {
        unreachable!("json! of an object literal")
    };
    map
}

fn user(name: &AccountName) -> Value {
    json!({"name": name.as_str(), "type_id": 1, "type": "User"})
}

fn endpoint(source: &Source) -> Value {
    let mut out = json!({"ip": source.ip.to_string()});
    let mut location = Map::new();
    if let Some(country) = &source.country {
        location.insert("country".into(), json!(country));
    }
    if let Some(city) = &source.city {
        location.insert("city".into(), json!(city));
    }
    // `location` needs at least one of city/country/postal_code/region.
    if !location.is_empty() {
        out["location"] = Value::Object(location);
    }
    out
}

/// `status_id` 1 Success, 2 Failure, 99 Other with the source's caption.
fn status(map: &mut Map<String, Value>, id: u32, caption: &str, detail: &str) {
    map.insert("status_id".into(), json!(id));
    map.insert("status".into(), json!(caption));
    map.insert("status_detail".into(), json!(detail));
}

fn assessment(map: &mut Map<String, Value>, assessment: &Assessment) {
    let reasons: Vec<Value> = assessment
        .reasons
        .iter()
        .map(|r| json!({"code": r.code, "weight": r.weight, "detail": r.detail}))
        .collect();
    map.insert(
        "unmapped".into(),
        json!({"assessment": {
            "score": assessment.score.get(),
            "level": assessment.level.as_str(),
            "reasons": reasons,
            "policy_version": assessment.policy_version,
            "model_version": assessment.model_version,
        }}),
    );
}

/// Authentication (3002), activity Other "Reset Attempt": `risk.high` (stepped
/// up: status Other "Step-Up Required") or `reset.denied` (status Failure).
pub fn authentication(attempt: &Attempt, denied: bool, producer: &Producer) -> Value {
    let a = &attempt.assessment;
    let (verb, status_args) = if denied {
        ("denied", (2, "Failure", "denied_by_risk_policy"))
    } else {
        ("stepped up", (99, "Step-Up Required", "step_up_required"))
    };
    let message = format!(
        "Password reset attempt for {} from {} {verb}: risk {} (score {})",
        attempt.user,
        attempt.source.ip,
        a.level.as_str(),
        a.score
    );
    let mut map = base(
        AUTHENTICATION,
        (99, "Reset Attempt"),
        Severity::of(a.level),
        attempt.time,
        producer,
        &message,
    );
    map.insert("user".into(), user(&attempt.user));
    map.insert("src_endpoint".into(), endpoint(&attempt.source));
    map.insert("service".into(), json!({"name": "resetgate"}));
    map.insert("is_remote".into(), json!(true));
    let (id, caption, detail) = status_args;
    status(&mut map, id, caption, detail);
    assessment(&mut map, a);
    Value::Object(map)
}

/// Account Change (3001), Password Reset (4), Success: `reset.completed`.
pub fn password_reset(attempt: &Attempt, producer: &Producer) -> Value {
    let message = format!(
        "Password reset completed for {} from {}",
        attempt.user, attempt.source.ip
    );
    let mut map = base(
        ACCOUNT_CHANGE,
        (4, "Password Reset"),
        Severity::of(attempt.assessment.level),
        attempt.time,
        producer,
        &message,
    );
    map.insert("user".into(), user(&attempt.user));
    map.insert("src_endpoint".into(), endpoint(&attempt.source));
    status(&mut map, 1, "Success", "password_reset");
    assessment(&mut map, &attempt.assessment);
    Value::Object(map)
}

/// `auth_factor.factor_type_id` and caption.
fn factor_type(factor: Factor) -> (u32, &'static str) {
    match factor {
        Factor::Sms => (1, "SMS"),
        Factor::Totp => (7, "OTP"),
        Factor::Email => (8, "Email"),
        Factor::Webauthn => (10, "WebAuthn"),
    }
}

/// Account Change (3001), MFA Factor Enable (10, Low) / Disable (11, Medium: the
/// account gets weaker): `factor.changed`.
pub fn factor_changed(change: &FactorChange, producer: &Producer) -> Value {
    let (activity, severity, verb) = if change.enabled {
        ((10, "MFA Factor Enable"), Severity::Low, "added")
    } else {
        ((11, "MFA Factor Disable"), Severity::Medium, "removed")
    };
    let message = format!(
        "Factor {} {verb} for {}",
        change.factor.as_str(),
        change.user
    );
    let mut map = base(
        ACCOUNT_CHANGE,
        activity,
        severity,
        change.time,
        producer,
        &message,
    );
    map.insert("user".into(), user(&change.user));
    if let Some(source) = &change.source {
        map.insert("src_endpoint".into(), endpoint(source));
    }
    let (type_id, caption) = factor_type(change.factor);
    let mut factor = json!({"factor_type_id": type_id, "factor_type": caption});
    if change.factor == Factor::Totp {
        factor["is_totp"] = json!(true);
    }
    map.insert("auth_factors".into(), json!([factor]));
    status(
        &mut map,
        1,
        "Success",
        if change.enabled {
            "factor_enabled"
        } else {
            "factor_disabled"
        },
    );
    Value::Object(map)
}

/// Account Change (3001), Lock (9): `account.locked`. Severity by reason.
pub fn account_locked(lock: &Lock, producer: &Producer) -> Value {
    let (severity, detail, why) = match lock.reason {
        LockReason::TooManyFailures => (
            Severity::Medium,
            "too_many_failures",
            "too many failed checks",
        ),
        LockReason::ReportedByOwner => {
            (Severity::High, "reported_by_owner", "reported by its owner")
        }
        LockReason::Admin => (Severity::Low, "admin", "by an administrator"),
    };
    let message = format!("Account {} locked: {why}", lock.user);
    let mut map = base(
        ACCOUNT_CHANGE,
        (9, "Lock"),
        severity,
        lock.time,
        producer,
        &message,
    );
    map.insert("user".into(), user(&lock.user));
    if let Some(source) = &lock.source {
        map.insert("src_endpoint".into(), endpoint(source));
    }
    status(&mut map, 1, "Success", detail);
    Value::Object(map)
}

/// Detection Finding (2004), Create (1), High, status New: `attack.spray_detected`.
/// The source address is the finding's evidence (`evidences[].src_endpoint`).
pub fn spray_detected(spray: &Spray, producer: &Producer) -> Value {
    let minutes = spray.window.as_secs().div_ceil(60);
    let title = format!("Password reset spray from {}", spray.source.ip);
    let desc = format!(
        "{} distinct accounts had resets attempted from {} within {minutes} min",
        spray.distinct_accounts, spray.source.ip
    );
    let mut map = base(
        DETECTION_FINDING,
        (1, "Create"),
        Severity::High,
        spray.time,
        producer,
        &desc,
    );
    let finding = spray.finding.to_string();
    map.insert(
        "finding_info".into(),
        json!({
            "uid": finding,
            "title": title,
            "desc": desc,
            "types": ["Password Reset Spray"],
            "created_time": unix_millis(spray.time),
            "first_seen_time": unix_millis(spray.first_seen),
            "last_seen_time": unix_millis(spray.time),
            "analytic": {"name": "distinct accounts per address", "type_id": 1, "type": "Rule"},
        }),
    );
    map.insert(
        "evidences".into(),
        json!([{"src_endpoint": endpoint(&spray.source)}]),
    );
    map.insert("start_time".into(), json!(unix_millis(spray.first_seen)));
    map.insert("end_time".into(), json!(unix_millis(spray.time)));
    map.insert("is_alert".into(), json!(true));
    map.insert("status_id".into(), json!(1));
    map.insert("status".into(), json!("New"));
    if let Some(a) = &spray.assessment {
        assessment(&mut map, a);
    }
    Value::Object(map)
}

#[cfg(test)]
pub(crate) mod tests;
