//! `audit verify` and `audit export`.

use std::io::Write;
use std::process::ExitCode;

use crate::audit::{self, Verdict};
use crate::config::Config;
use crate::store::durable::AuditStore;

pub async fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let key = crate::app::load_existing_key(config)?;
    let store = crate::app::open_durable(config).await?;
    match audit::verify(&store, &key).await? {
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in page {
            let data: serde_json::Value =
                serde_json::from_str(&r.data).unwrap_or(serde_json::Value::String(r.data));
            let line = serde_json::json!({
                "seq": r.seq, "at": r.at, "kind": r.kind, "subject": r.subject,
                "data": data, "prev_hash": r.prev_hash, "hash": r.hash,
            });
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
