//! `resetgate train --input CSV --out MODEL`: replay the attempts through the
//! gateway's own signal gathering ([`crate::replay`]), turn each into the
//! served feature vector (`models::features`), and train the anomaly model
//! (`models::train`): candidates compared, the winner calibrated and saved.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use models::dataset::read_any;
use models::features::N;
use models::train::{TrainConfig, train};

use crate::replay::Replay;

/// Options of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Attempts in time order: the project's attempts CSV or the RBA dataset's CSV.
    #[arg(long, value_name = "CSV")]
    input: PathBuf,
    /// Where to write the model (JSON).
    #[arg(long, value_name = "MODEL")]
    out: PathBuf,
    /// Seed of the training (same data and seed: the same model, byte for byte).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The risk policy the replay decides under (default: `risk.policy` of
    /// `--config`, else the bundled one).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

pub async fn run(config: &crate::config::Config, args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let replay = Replay::from_config(config, args.policy.clone(), None).await?;
    let reader = read_any(&args.input)?;
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} replaying {human_pos} attempts ({per_sec}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut data: Vec<f64> = Vec::new();
    let mut labels = Vec::new();
    replay
        .replay_all(reader, &args.input, |_, decided| {
            data.extend_from_slice(&decided.features);
            labels.push(decided.label.is_attack());
            progress.inc(1);
        })
        .await?;
    progress.finish_and_clear();
    let rows = ndarray::Array2::from_shape_vec((labels.len(), N), data)?;
    let attacks = labels.iter().filter(|a| **a).count();
    println!(
        "replayed {} attempts ({attacks} labelled attacks) in {:.1?}; training…",
        labels.len(),
        started.elapsed()
    );
    let trained_at = jiff::Timestamp::try_from(std::time::SystemTime::now())?;
    let config = TrainConfig::new(args.seed, trained_at);
    let trained = train(&rows, (attacks > 0).then_some(labels.as_slice()), &config)?;
    println!("candidate      held-out LL   ROC AUC  TPR@1%FPR");
    for c in &trained.candidates {
        let figure = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
        match &c.error {
            Some(error) => println!("{:<12} failed: {error}", c.name),
            None => println!(
                "{:<12} {:>12} {:>9} {:>10}",
                c.name,
                figure(c.heldout_log_likelihood),
                figure(c.auc),
                figure(c.tpr_at_1pct_fpr)
            ),
        }
    }
    std::fs::write(&args.out, trained.model.save())?;
    println!(
        "model {} (chosen by {}) written to {} in {:.1?}",
        trained.model.version(),
        trained.selected_by,
        args.out.display(),
        started.elapsed()
    );
    Ok(ExitCode::SUCCESS)
}
