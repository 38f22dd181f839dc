//! `audit verify` and `audit export`.

use std::io::Write;
use std::process::ExitCode;

use crate::audit::{self, Verdict};
use crate::config::Config;

pub async fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let key = crate::app::load_existing_key(config)?;
    let store = crate::app::open_durable(config).await?;
    match audit::verify(store.as_ref(), &key).await? {
        Verdict::Intact { count, head } => {
            println!("audit chain intact: {count} records, head {head}");
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Broken { seq, problem } => {
            eprintln!("audit chain BROKEN at record {seq}: {problem}");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn export(config: &Config) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_durable(config).await?;
    // Analysts' labels first, so each decision's line carries its latest one
    // (`"label": "attack" | "legitimate"`) for retraining; the label records
    // themselves are exported too.
    let mut labels = std::collections::HashMap::new();
    audit::for_each(store.as_ref(), |record| -> anyhow::Result<()> {
        if record.kind == crate::decisions::LABELLED {
            let data: serde_json::Value = serde_json::from_str(&record.data)?;
            if let Some(seq) = data["seq"].as_i64() {
                labels.insert(seq, data["label"].clone());
            }
        }
        Ok(())
    })
    .await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    audit::for_each(store.as_ref(), |record| -> anyhow::Result<()> {
        let label = labels.get(&record.seq).cloned();
        let mut line = audit::exported(record);
        if let Some(label) = label {
            line["label"] = label;
        }
        writeln!(out, "{line}")?;
        Ok(())
    })
    .await?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
