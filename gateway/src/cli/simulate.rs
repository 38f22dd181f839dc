//! `simulate --policy FILE [--from AUDIT_EXPORT]`: replay recorded attempts
//! under a candidate policy and print the decision-shift table.
//!
//! Every `reset.started` audit record carries the exact `signals` the live
//! decision saw and the level it reached, so the replay is the same pure
//! `risk::evaluate` call with only the policy changed. Records come from an
//! `audit export` file (JSON lines) or, without `--from`, from the durable store.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use risk::{Level, Policy, Signals};
use serde_json::Value;

use crate::config::Config;

/// One replayed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub subject: String,
    pub old: Level,
    pub new: Level,
    /// Reason codes the candidate added / dropped.
    pub gained: Vec<String>,
    pub lost: Vec<String>,
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
    pub shifts: Vec<Shift>,
}

/// Replay one audit record (an `audit export` line or a stored record).
pub fn replay(candidate: &Policy, record: &Value, report: &mut Report) {
    if record["kind"] != "reset.started" {
        return;
    }
    let data = &record["data"];
    let (Some(signals), Some(old)) = (
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
    let Some(at) = record["at"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(std::time::SystemTime::from)
    else {
        report.skipped += 1;
        return;
    };
    let assessment = risk::evaluate(candidate, &signals, at);
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
        report.shifts.push(Shift {
            subject: record["subject"].as_str().unwrap_or_default().to_owned(),
            old,
            new: assessment.level,
            gained,
            lost,
        });
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
    let up = report.shifts.iter().filter(|s| s.new > s.old).count();
    let down = report.shifts.iter().filter(|s| s.new < s.old).count();
    let blocks = report
        .shifts
        .iter()
        .filter(|s| s.new == Level::Deny)
        .count();
    let _ = write!(
        out,
        "\n{} {}: {up} step up (of which {blocks} newly refused), {down} step down\n",
        report.shifts.len(),
        if report.shifts.len() == 1 {
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

pub async fn run(config: &Config, policy: &Path, from: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(policy)
        .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    let candidate =
        Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    let mut report = Report::default();
    if let Some(path) = from {
        let file =
            std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Value = serde_json::from_str(&line).map_err(|e| {
                anyhow::anyhow!("{} line {}: not a JSON record: {e}", path.display(), i + 1)
            })?;
            replay(&candidate, &record, &mut report);
        }
    } else {
        let store = crate::app::open_durable(config).await?;
        crate::audit::for_each(store.as_ref(), |record| -> anyhow::Result<()> {
            replay(&candidate, &crate::audit::exported(record), &mut report);
            Ok(())
        })
        .await?;
    }
    print!("{}", render(&report, candidate.version()));
    Ok(ExitCode::SUCCESS)
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
        let text = render(&report, candidate.version());
        assert!(text.contains("1 step up"), "{text}");
    }
}
