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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    audit::for_each(store.as_ref(), |record| -> anyhow::Result<()> {
        writeln!(out, "{}", audit::exported(record))?;
        Ok(())
    })
    .await?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
