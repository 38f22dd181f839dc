//! Replay of recorded attempts under a candidate policy (and, optionally, a
//! candidate anomaly model): the decision-shift matrix, the attempts that
//! changed with the reasons behind the change, and the extra step-ups and
//! blocks. Used by `resetgate simulate` and `POST /v1/admin/simulate`.
//!
//! Every `reset.started` audit record carries the exact `signals` the live
//! decision saw, the time it was taken (`decided_at_ms`, else the record's
//! time) and the level it reached, so the replay is the same pure
//! `risk::evaluate` call with only the policy (and the model's score)
//! changed: replaying under the policy that decided gives every attempt its
//! recorded level again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use risk::{Level, Policy, Signals};
use serde::Serialize;
use serde_json::Value;

/// One replayed attempt whose level changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    /// The audit record's number (absent in an export without one).
    pub seq: Option<i64>,
    pub at: String,
    pub subject: String,
    pub old: Level,
    pub new: Level,
    /// Reason codes the candidate added / dropped.
    pub gained: Vec<String>,
    pub lost: Vec<String>,
}

/// What is replayed: the policy and, when set, a model whose score replaces
/// the recorded one.
pub struct Candidate<'a> {
    pub policy: &'a Policy,
    pub model: Option<&'a models::model::Model>,
}

/// The result of a replay.
#[derive(Debug, Default)]
pub struct Report {
    pub replayed: usize,
    /// Records without signals (written before signals were recorded).
    pub skipped: usize,
    /// (old level, new level) -> count.
    pub matrix: BTreeMap<(Level, Level), usize>,
    /// Reason code -> attempts whose decision it newly contributes to.
    pub moved_reasons: BTreeMap<String, usize>,
    /// The attempts whose level changed, as many as [`Self::keep`] allows
    /// (the counts cover them all).
    pub shifts: Vec<Shift>,
    /// Keep at most this many [`Shift`]s (all when `None`).
    pub keep: Option<usize>,
}

/// Replay one audit record (an `audit export` line or a stored record).
pub fn replay(candidate: &Candidate<'_>, record: &Value, report: &mut Report) {
    if record["kind"] != "reset.started" {
        return;
    }
    let data = &record["data"];
    let (Some(mut signals), Some(old)) = (
        data.get("signals")
            .and_then(|s| serde_json::from_value::<Signals>(s.clone()).ok()),
        data.get("level")
            .and_then(|l| serde_json::from_value::<Level>(l.clone()).ok()),
    ) else {
        report.skipped += 1;
        return;
    };
    // The decision's time matters (travel, contact-change windows): a record
    // without a readable one is skipped, not replayed at some other time.
    let decided_at = data["decided_at_ms"]
        .as_u64()
        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let Some(at) = decided_at.or_else(|| {
        record["at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(SystemTime::from)
    }) else {
        report.skipped += 1;
        return;
    };
    if let Some(model) = candidate.model {
        signals.anomaly = Some(model.score(&signals, at));
        signals.anomaly_model = Some(model.version().to_owned());
    }
    let assessment = risk::evaluate(candidate.policy, &signals, at);
    let old_codes: Vec<String> = data["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|r| r["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let new_codes: Vec<String> = assessment.reasons.iter().map(|r| r.code.clone()).collect();
    report.replayed += 1;
    *report.matrix.entry((old, assessment.level)).or_default() += 1;
    if old != assessment.level {
        let gained: Vec<String> = new_codes
            .iter()
            .filter(|c| !old_codes.contains(c))
            .cloned()
            .collect();
        let lost: Vec<String> = old_codes
            .iter()
            .filter(|c| !new_codes.contains(c))
            .cloned()
            .collect();
        for code in &gained {
            *report.moved_reasons.entry(code.clone()).or_default() += 1;
        }
        if report.keep.is_some_and(|keep| report.shifts.len() >= keep) {
            return;
        }
        report.shifts.push(Shift {
            seq: record["seq"].as_i64(),
            at: record["at"].as_str().unwrap_or_default().to_owned(),
            subject: record["subject"].as_str().unwrap_or_default().to_owned(),
            old,
            new: assessment.level,
            gained,
            lost,
        });
    }
}

impl Report {
    fn count(&self, moved: impl Fn(Level, Level) -> bool) -> usize {
        self.matrix
            .iter()
            .filter(|((old, new), _)| moved(*old, *new))
            .map(|(_, n)| n)
            .sum()
    }

    /// Attempts whose level changed.
    pub fn changed(&self) -> usize {
        self.count(|old, new| old != new)
    }

    /// Attempts asked for more than before, but not refused.
    pub fn extra_step_ups(&self) -> usize {
        self.count(|old, new| new > old && new != Level::Deny)
    }

    /// Attempts refused that were not before.
    pub fn extra_blocks(&self) -> usize {
        self.count(|old, new| new == Level::Deny && old != Level::Deny)
    }

    /// Attempts asked for less than before.
    pub fn step_downs(&self) -> usize {
        self.count(|old, new| new < old)
    }
}

/// The decision-shift table as text.
pub fn render(report: &Report, version: &str) -> String {
    let mut out = format!(
        "replayed {} attempts under policy {version} ({} without recorded signals skipped)\n\n",
        report.replayed, report.skipped
    );
    out.push_str("old \\ new   low  medium    high    deny\n");
    for old in Level::ALL {
        let _ = write!(out, "{:<9}", old.as_str());
        for new in Level::ALL {
            let _ = write!(
                out,
                "{:>8}",
                report.matrix.get(&(old, new)).copied().unwrap_or(0)
            );
        }
        out.push('\n');
    }
    let (changed, blocks) = (report.changed(), report.extra_blocks());
    let (up, down) = (report.extra_step_ups() + blocks, report.step_downs());
    let _ = write!(
        out,
        "\n{changed} {}: {up} step up (of which {blocks} newly refused), {down} step down\n",
        if changed == 1 {
            "decision changes"
        } else {
            "decisions change"
        }
    );
    if !report.moved_reasons.is_empty() {
        let mut reasons: Vec<_> = report.moved_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        out.push_str("\nreasons behind the changes:\n");
        for (code, n) in reasons.into_iter().take(10) {
            let _ = writeln!(out, "  {n:>6}  {code}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use risk::Velocity;
    use serde_json::json;

    fn record(velocity: Velocity, level: Level) -> Value {
        let signals = Signals {
            velocity,
            enrolled: vec![risk::Factor::Totp, risk::Factor::Sms],
            ..Signals::default()
        };
        json!({"kind": "reset.started", "at": "2026-11-26T10:00:00Z", "subject": "ann",
               "data": {"signals": signals, "level": level, "reasons": []}})
    }

    #[test]
    fn a_stricter_policy_shifts_decisions_up() {
        let strict = Policy::BUNDLED_TOML.replace("[levels]\nmedium = 30", "[levels]\nmedium = 10");
        assert_ne!(strict, Policy::BUNDLED_TOML);
        let candidate = Policy::parse(&strict).unwrap();
        let quiet = Velocity {
            account_attempts_1h: 1,
            ..Velocity::default()
        };
        let busy = Velocity {
            account_attempts_1h: 3,
            ..Velocity::default()
        };
        let mut report = Report::default();
        let candidate = Candidate {
            policy: &candidate,
            model: None,
        };
        replay(&candidate, &record(quiet, Level::Low), &mut report);
        replay(&candidate, &record(busy, Level::Low), &mut report);
        replay(
            &candidate,
            &json!({"kind": "reset.started", "data": {}}),
            &mut report,
        );
        replay(
            &candidate,
            &json!({"kind": "login.failed", "data": {}}),
            &mut report,
        );
        assert_eq!((report.replayed, report.skipped), (2, 1));
        assert_eq!(report.matrix.get(&(Level::Low, Level::Low)), Some(&1));
        assert_eq!(report.matrix.get(&(Level::Low, Level::Medium)), Some(&1));
        assert_eq!(report.shifts[0].gained, ["account_attempts_1h"]);
        assert_eq!(
            (
                report.extra_step_ups(),
                report.extra_blocks(),
                report.step_downs()
            ),
            (1, 0, 0)
        );
        let text = render(&report, candidate.policy.version());
        assert!(text.contains("1 step up"), "{text}");
    }
}
