//! The detection comparison of issue 5, in one run: on a held-out time split
//! of the generated traffic, (a) the policy's rules only, (b) the Freeman
//! history model alone, (c) the linfa anomaly model alone, (d) the decision
//! `serve` makes (all three), and (e) scikit-learn's `IsolationForest` on the
//! same features (`bench/detection/isolation_forest.py`).
//!
//! ```sh
//! python3 -m venv target/detection-venv
//! target/detection-venv/bin/pip install -r bench/detection/requirements.txt
//! cargo run --release -p resetgate-bench --bin detection -- \
//!     --python target/detection-venv/bin/python --out target/detection
//! ```
//!
//! 1. Generate the default traffic (seed 42, 2,000 accounts, 60 days) and split
//!    it by time: the first `--train-days` days train, the rest are held out.
//! 2. Train the model on the training days (replayed through the live signal
//!    gathering, as `resetgate train` does).
//! 3. Replay the training days as history with that model served, then decide
//!    every held-out attempt as `resetgate evaluate` does.
//! 4. Fit `IsolationForest` on the training days' features, score the held-out
//!    ones.
//! 5. Print each scorer's figures (takeovers, then targeted takeovers only, as
//!    positives) as Markdown tables; write `roc.svg`, `figures.json`, the two
//!    CSV splits and the model to `--out`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use models::dataset::{AttemptWriter, read_any};
use models::evaluate::{Positives, plot_roc};
use models::features::{N, SCHEMA};
use models::generate::{GenerateConfig, generate};
use models::train::{TrainConfig, train};
use resetgate::evaluate::{Scorer, builtin_scorers, compare, curves, table};
use resetgate::replay::{Decided, Replay};

struct Args {
    seed: u64,
    accounts: u32,
    days: u32,
    train_days: u32,
    out: PathBuf,
    python: String,
    policy: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        seed: 42,
        accounts: 2000,
        days: 60,
        train_days: 42,
        out: PathBuf::from("target/detection"),
        python: "python3".into(),
        policy: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => args.seed = value()?.parse()?,
            "--accounts" => args.accounts = value()?.parse()?,
            "--days" => args.days = value()?.parse()?,
            "--train-days" => args.train_days = value()?.parse()?,
            "--out" => args.out = value()?.into(),
            "--python" => args.python = value()?,
            "--policy" => args.policy = Some(value()?.into()),
            other => bail!(
                "unknown option {other}; options: --seed N --accounts N --days N \
                 --train-days N --out DIR --python PATH --policy FILE"
            ),
        }
    }
    if args.train_days == 0 || args.train_days >= args.days {
        bail!("--train-days must be between 1 and --days - 1");
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)?;
    let (train_csv, test_csv, split_at) = generate_and_split(&args)?;
    eprintln!("generated and split in {:.1?}", started.elapsed());

    // Train on the training days.
    let replay = Replay::new(None, None).await?;
    let (mut train_x, mut labels) = (Vec::new(), Vec::new());
    replay
        .replay_all(read_any(&train_csv)?, &train_csv, |_, d| {
            train_x.push(d.features);
            labels.push(d.label.is_attack());
        })
        .await?;
    drop(replay);
    let rows = ndarray::Array2::from_shape_vec(
        (train_x.len(), N),
        train_x.iter().flatten().copied().collect(),
    )?;
    let trained_at = jiff::Timestamp::from_second(split_at)?;
    let trained = train(
        &rows,
        Some(&labels),
        &TrainConfig::new(args.seed, trained_at),
    )?;
    let model_path = args.out.join("model.json");
    std::fs::write(&model_path, trained.model.save())?;
    eprintln!(
        "trained {} on {} attempts in {:.1?}",
        trained.model.version(),
        train_x.len(),
        started.elapsed()
    );

    // History, then the held-out days, with the model served.
    let replay = Replay::new(args.policy.clone(), Some(model_path.clone())).await?;
    replay
        .replay_all(read_any(&train_csv)?, &train_csv, |_, _| {})
        .await?;
    let mut decided: Vec<Decided> = Vec::new();
    replay
        .replay_all(read_any(&test_csv)?, &test_csv, |_, d| decided.push(d))
        .await?;
    eprintln!(
        "decided {} held-out attempts in {:.1?}",
        decided.len(),
        started.elapsed()
    );

    let forest = isolation_forest(&args, &train_x, &decided)?;
    let mut scorers = builtin_scorers();
    scorers.push(Scorer::new("IsolationForest (scikit-learn)", move |d| {
        forest.get(&d.index).copied().unwrap_or(f64::NAN)
    }));

    let mut report = String::new();
    let mut json = serde_json::Map::new();
    for positives in [Positives::Takeovers, Positives::Targeted] {
        let rows = compare(&decided, &scorers, positives);
        let _ = writeln!(
            report,
            "\n{positives} as positives ({} positives, {} legitimate):\n\n{}",
            rows[0].1.positives,
            rows[0].1.negatives,
            table(&rows)
        );
        json.insert(positives.as_str().into(), serde_json::to_value(&rows)?);
    }
    let svg = plot_roc(
        &format!(
            "Held-out days {}–{}: takeovers vs legitimate",
            args.train_days + 1,
            args.days
        ),
        &curves(&decided, &scorers, Positives::Takeovers),
    );
    std::fs::write(args.out.join("roc.svg"), svg)?;
    std::fs::write(
        args.out.join("figures.json"),
        serde_json::to_vec_pretty(&json)?,
    )?;
    println!(
        "model {} ({} training attempts, days 1–{}), policy {}; {} held-out attempts (days {}–{}); {:.1?}",
        trained.model.version(),
        train_x.len(),
        args.train_days,
        replay.state().policy().version(),
        decided.len(),
        args.train_days + 1,
        args.days,
        started.elapsed()
    );
    println!("{report}");
    Ok(())
}

/// Writes the generated traffic's first `--train-days` days to `train.csv` and
/// the rest to `test.csv` in `--out`; returns both paths and the split time.
fn generate_and_split(args: &Args) -> anyhow::Result<(PathBuf, PathBuf, i64)> {
    let config = GenerateConfig {
        seed: args.seed,
        accounts: args.accounts,
        days: args.days,
        ..GenerateConfig::default()
    };
    let split_at = config.start + i64::from(args.train_days) * 86_400;
    let (train_csv, test_csv) = (args.out.join("train.csv"), args.out.join("test.csv"));
    let (mut train_out, mut test_out) = (
        AttemptWriter::create(&train_csv)?,
        AttemptWriter::create(&test_csv)?,
    );
    for attempt in generate(&config) {
        if attempt.at < split_at {
            train_out.write(&attempt)?;
        } else {
            test_out.write(&attempt)?;
        }
    }
    train_out.flush()?;
    test_out.flush()?;
    Ok((train_csv, test_csv, split_at))
}

/// Fit scikit-learn's `IsolationForest` on the training features and score
/// the held-out ones: `index -> score` (higher = more anomalous).
fn isolation_forest(
    args: &Args,
    train_x: &[[f64; N]],
    decided: &[Decided],
) -> anyhow::Result<HashMap<u64, f64>> {
    let write = |path: &Path, rows: &mut dyn Iterator<Item = (u64, &[f64; N])>| {
        let mut out = String::from("index");
        for name in SCHEMA {
            out.push(',');
            out.push_str(name);
        }
        out.push('\n');
        for (index, x) in rows {
            let _ = write!(out, "{index}");
            for v in x {
                let _ = write!(out, ",{v:?}");
            }
            out.push('\n');
        }
        std::fs::write(path, out)
    };
    let (train_path, test_path, scores_path) = (
        args.out.join("features-train.csv"),
        args.out.join("features-test.csv"),
        args.out.join("isolation-forest-scores.csv"),
    );
    write(&train_path, &mut (0..).zip(train_x.iter()))?;
    write(
        &test_path,
        &mut decided.iter().map(|d| (d.index, &d.features)),
    )?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("detection/isolation_forest.py");
    let status = Command::new(&args.python)
        .arg(&script)
        .args(["--train".as_ref(), train_path.as_os_str()])
        .args(["--test".as_ref(), test_path.as_os_str()])
        .args(["--out".as_ref(), scores_path.as_os_str()])
        .args(["--seed", &args.seed.to_string()])
        .status()
        .with_context(|| format!("running {} {}", args.python, script.display()))?;
    if !status.success() {
        bail!(
            "{} exited with {status}: is scikit-learn installed (bench/detection/requirements.txt)?",
            script.display()
        );
    }
    let mut scores = HashMap::new();
    for row in std::fs::read_to_string(&scores_path)?.lines().skip(1) {
        let (index, score) = row
            .split_once(',')
            .with_context(|| format!("{}: bad row {row:?}", scores_path.display()))?;
        scores.insert(index.parse()?, score.parse()?);
    }
    Ok(scores)
}
