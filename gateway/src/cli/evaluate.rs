//! `resetgate evaluate --model MODEL [--history CSV] --input CSV [--scores OUT.csv]
//! [--plot FILE.svg]`: replay `--history` to build account history and velocity
//! state as live traffic would, then decide every row of `--input` in time
//! order exactly as `serve` does (policy + history model + anomaly model) and
//! report how well the decision separates takeovers from their owners.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use models::dataset::{Label, read_any};
use models::evaluate::{Positives, figures, plot_roc};

use crate::evaluate::{builtin_scorers, compare, curves, scored, table};
use crate::replay::{Decided, Replay};

/// Options of `evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The model to serve during the replay (`resetgate train`).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// Attempts replayed first, to build history and velocity state (not scored).
    #[arg(long, value_name = "CSV")]
    history: Option<PathBuf>,
    /// Attempts to score, in time order, after the history's.
    #[arg(long, value_name = "CSV")]
    input: PathBuf,
    /// Write `index,score,level` for every scored row.
    #[arg(long, value_name = "OUT.csv")]
    scores: Option<PathBuf>,
    /// Draw the ROC curves (served decision and its parts) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// The risk policy to decide under (default: the bundled one).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

pub async fn run(config: &crate::config::Config, args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Read the model here too, for an error that names the option.
    let model =
        std::fs::read(&args.model).with_context(|| format!("--model {}", args.model.display()))?;
    let model = models::model::load(&model)
        .map_err(|e| anyhow::anyhow!("--model {}: {e}", args.model.display()))?;
    let replay = Replay::from_config(config, args.policy.clone(), Some(args.model.clone())).await?;
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {prefix} {human_pos} attempts ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    if let Some(history) = &args.history {
        progress.set_prefix("replaying history:");
        let n = replay
            .replay_all(read_any(history)?, history, |_, _| progress.inc(1))
            .await?;
        progress.println(format!(
            "history: {n} attempts replayed from {}",
            history.display()
        ));
        progress.set_position(0);
    }
    progress.set_prefix("scoring:");
    let mut decided: Vec<Decided> = Vec::new();
    replay
        .replay_all(read_any(&args.input)?, &args.input, |_, d| {
            decided.push(d);
            progress.inc(1);
        })
        .await?;
    progress.finish_and_clear();
    if let Some(path) = &args.scores {
        write_scores(path, &decided)?;
    }
    println!(
        "scored {} attempts of {} with model {} and policy {} in {:.1?}",
        decided.len(),
        args.input.display(),
        model.version(),
        replay.state().policy().version(),
        started.elapsed()
    );
    println!("{}", levels(&decided));
    let scorers = builtin_scorers();
    let served = scored(&decided, &scorers[0]);
    for positives in [Positives::Takeovers, Positives::Targeted] {
        println!(
            "served decision, {positives}:\n{}",
            figures(&served, positives)
        );
    }
    println!(
        "the decision and its parts, takeovers as positives:\n\n{}",
        table(&compare(&decided, &scorers, Positives::Takeovers))
    );
    if let Some(path) = &args.plot {
        let title = format!("ROC, takeovers vs legitimate ({})", model.version());
        let svg = plot_roc(&title, &curves(&decided, &scorers, Positives::Takeovers));
        std::fs::write(path, svg).with_context(|| format!("--plot {}", path.display()))?;
        println!("ROC curves written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_scores(path: &std::path::Path, decided: &[Decided]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("--scores {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "index,score,level")?;
    for d in decided {
        writeln!(out, "{},{},{}", d.index, d.score, d.level.as_str())?;
    }
    out.flush()
        .with_context(|| format!("--scores {}", path.display()))?;
    Ok(())
}

/// How many attempts of each label reached each level.
fn levels(decided: &[Decided]) -> String {
    let labels = [
        Label::Legit,
        Label::TargetedTakeover,
        Label::NaiveTakeover,
        Label::SimSwap,
        Label::Stuffing,
        Label::Spraying,
    ];
    let mut out =
        String::from("label                  attempts      low   medium     high     deny\n");
    for label in labels {
        let rows: Vec<&Decided> = decided.iter().filter(|d| d.label == label).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(out, "{:<22} {:>8}", label.as_str(), rows.len());
        for level in risk::Level::ALL {
            let n = rows.iter().filter(|d| d.level == level).count();
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            let share = n as f64 / rows.len() as f64 * 100.0;
            let _ = write!(out, " {share:>7.1}%");
        }
        out.push('\n');
    }
    out
}
