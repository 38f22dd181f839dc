//! `simulate --policy FILE [--model FILE] [--days N] [--from AUDIT_EXPORT]`:
//! replay recorded attempts (of the last N days) under a candidate policy
//! (and model) and print the decision-shift table (`crate::simulate`).
//! Records come from an `audit export` file (JSON lines) or, without
//! `--from`, from the durable store.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use risk::Policy;
use serde_json::Value;

use crate::config::Config;
use crate::simulate::{Candidate, Report, render, replay};

pub async fn run(
    config: &Config,
    policy: &Path,
    model: Option<&Path>,
    days: Option<u32>,
    from: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    // Records at or after this RFC 3339 time (UTC, whole seconds: compared as text).
    let since = days.map(|d| {
        crate::time::rfc3339(
            std::time::SystemTime::now() - std::time::Duration::from_secs(u64::from(d) * 86_400),
        )
    });
    let recent = |record: &Value| {
        since
            .as_deref()
            .is_none_or(|since| record["at"].as_str().is_some_and(|at| at >= since))
    };
    let text = std::fs::read_to_string(policy)
        .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    let policy_file = policy;
    let policy =
        Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", policy_file.display()))?;
    let model = match model {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(
                models::model::load(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let candidate = Candidate {
        policy: &policy,
        model: model.as_ref(),
    };
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
            if recent(&record) {
                replay(&candidate, &record, &mut report);
            }
        }
    } else {
        let store = crate::app::open_durable(config).await?;
        crate::audit::for_each(store.as_ref(), |record| -> anyhow::Result<()> {
            let record = crate::audit::exported(record);
            if recent(&record) {
                replay(&candidate, &record, &mut report);
            }
            Ok(())
        })
        .await?;
    }
    let mut under = policy.version().to_owned();
    if let Some(model) = &model {
        under.push_str(" and model ");
        under.push_str(model.version());
    }
    print!("{}", render(&report, &under));
    Ok(ExitCode::SUCCESS)
}
