//! `resetgate generate`: write the seeded synthetic reset/sign-in traffic
//! (`models::generate`) as an attempts CSV, for `train` and `evaluate`.

use std::path::PathBuf;

use clap::Args;
use models::dataset::{AttemptWriter, Label};
use models::generate::{GenerateConfig, generate};

/// Options of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Seed of every random draw: the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Legitimate accounts.
    #[arg(long, default_value_t = 2000)]
    accounts: u32,
    /// Days of traffic, from 2026-03-01.
    #[arg(long, default_value_t = 60)]
    days: u32,
    /// Share of events that are attacks (0..0.9).
    #[arg(long, default_value_t = 0.03)]
    attack_rate: f64,
    /// The attempts CSV to write.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<std::process::ExitCode> {
    let config = GenerateConfig {
        seed: args.seed,
        accounts: args.accounts,
        days: args.days,
        attack_rate: args.attack_rate,
        ..GenerateConfig::default()
    };
    let mut writer = AttemptWriter::create(&args.out)?;
    let (mut rows, mut attacks) = (0u64, 0u64);
    for attempt in generate(&config) {
        writer.write(&attempt)?;
        rows += 1;
        attacks += u64::from(attempt.label != Label::Legit);
    }
    writer.flush()?;
    println!(
        "wrote {rows} attempts ({attacks} labelled attacks) to {} (seed {})",
        args.out.display(),
        args.seed
    );
    Ok(std::process::ExitCode::SUCCESS)
}
