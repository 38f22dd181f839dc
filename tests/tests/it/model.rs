//! The anomaly model's command line, end to end: `generate` writes seeded
//! traffic, `train` replays it through the gateway's signal gathering and
//! trains; the saved model loads and the same seed trains the same model.

use std::path::Path;
use std::process::Command;

use resetgate_tests::binary::resetgate_bin;

fn run(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(resetgate_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("resetgate runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "resetgate {args:?} failed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn version_line(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("model "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no model line in\n{stdout}"))
        .to_owned()
}

#[test]
fn generated_traffic_trains_a_model_that_loads_and_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "generate",
            "--seed",
            "7",
            "--accounts",
            "100",
            "--days",
            "14",
            "--out",
            "traffic.csv",
        ],
    );
    assert!(out.contains("labelled attacks"), "{out}");
    let first = run(
        dir.path(),
        &["train", "--input", "traffic.csv", "--out", "a.json"],
    );
    for name in ["gmm4", "kmeans8"] {
        assert!(
            first.contains(name),
            "candidate {name} not reported:\n{first}"
        );
    }
    let model = models::model::load(&std::fs::read(dir.path().join("a.json")).unwrap())
        .expect("the saved model loads");
    assert_eq!(model.version(), version_line(&first));
    let second = run(
        dir.path(),
        &["train", "--input", "traffic.csv", "--out", "b.json"],
    );
    assert_eq!(
        version_line(&first),
        version_line(&second),
        "same data and seed"
    );
    let other = run(
        dir.path(),
        &[
            "train",
            "--input",
            "traffic.csv",
            "--out",
            "c.json",
            "--seed",
            "8",
        ],
    );
    assert_ne!(version_line(&first), version_line(&other), "another seed");
}

/// Runs resetgate expecting failure; returns stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(resetgate_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("resetgate runs");
    assert!(
        !output.status.success(),
        "resetgate {args:?} should fail\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The first number on the line of `stdout` that starts with `prefix`.
fn figure(stdout: &str, prefix: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} figure in\n{stdout}"))
}

/// Splits `traffic.csv` into `history.csv` (days 1–14, also the training data)
/// and `input.csv` (days 15–21); returns the input rows that get scored (all but
/// contact changes).
fn split_history_and_input(dir: &Path) -> Vec<String> {
    // Days 1–14 are history (and training), days 15–21 are scored.
    let text = std::fs::read_to_string(dir.join("traffic.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut history, mut input) = (vec![header], vec![header]);
    for line in lines {
        let at = line.split(',').nth(1).unwrap();
        if at < "2026-03-15" {
            history.push(line);
        } else {
            input.push(line);
        }
    }
    std::fs::write(dir.join("history.csv"), history.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("input.csv"), input.join("\n") + "\n").unwrap();
    input[1..]
        .iter()
        .filter(|l| l.split(',').nth(2) != Some("contact_change"))
        .map(|l| (*l).to_owned())
        .collect()
}

#[test]
fn evaluate_replays_history_then_scores_every_input_row() {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &[
            "generate",
            "--seed",
            "11",
            "--accounts",
            "150",
            "--days",
            "21",
            "--attack-rate",
            "0.05",
            "--out",
            "traffic.csv",
        ],
    );
    let scored_rows = split_history_and_input(dir.path());
    let trained = run(
        dir.path(),
        &["train", "--input", "history.csv", "--out", "model.json"],
    );
    let version = version_line(&trained);

    let out = run(
        dir.path(),
        &[
            "evaluate",
            "--model",
            "model.json",
            "--history",
            "history.csv",
            "--input",
            "input.csv",
            "--scores",
            "scores.csv",
            "--plot",
            "roc.svg",
        ],
    );
    assert!(out.contains(&version), "names the model:\n{out}");
    // The served decision separates takeovers from their owners.
    let auc = figure(&out, "ROC AUC");
    assert!(auc > 0.8 && auc <= 1.0, "ROC AUC {auc}\n{out}");
    for line in [
        "TPR at FPR 1%",
        "TPR at FPR 0.1%",
        "catch 99% ",
        "catch 99.5%",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }

    // One `index,score,level` line per scored row, in input order.
    let scores = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    let mut rows = scores.lines();
    assert_eq!(rows.next(), Some("index,score,level"));
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), scored_rows.len());
    for (row, line) in rows.iter().zip(&scored_rows) {
        assert_eq!(row[0], line.split(',').next().unwrap(), "index");
        let score: u8 = row[1].parse().unwrap();
        assert!(score <= 100);
        assert!(
            ["low", "medium", "high", "deny"].contains(&row[2]),
            "{row:?}"
        );
    }
    let svg = std::fs::read_to_string(dir.path().join("roc.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    for curve in [
        "served",
        "rules only",
        "Freeman history model",
        "anomaly model",
    ] {
        assert!(svg.contains(curve), "curve {curve} missing from the plot");
    }

    // Input before the history's end would run time backwards: refused.
    let err = fails(
        dir.path(),
        &[
            "evaluate",
            "--model",
            "model.json",
            "--history",
            "input.csv",
            "--input",
            "history.csv",
        ],
    );
    assert!(err.contains("time order"), "{err}");
    let err = fails(
        dir.path(),
        &[
            "evaluate",
            "--model",
            "missing.json",
            "--input",
            "input.csv",
        ],
    );
    assert!(err.contains("--model missing.json"), "{err}");
}

#[test]
fn check_config_loads_the_configured_model_and_names_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.json"), models::model::BUNDLED).unwrap();
    let version = models::model::bundled().unwrap().version().to_owned();
    let bundled = run(dir.path(), &["check-config"]);
    assert!(
        bundled.contains(&format!("anomaly model   version {version} (bundled)")),
        "{bundled}"
    );
    std::fs::write(
        dir.path().join("good.toml"),
        "[models]\nanomaly = \"model.json\"\n[secrets]\nkey_file = \"key\"\n",
    )
    .unwrap();
    let ok = run(dir.path(), &["check-config", "--config", "good.toml"]);
    assert!(
        ok.contains(&format!("anomaly model   version {version} (model.json)")),
        "{ok}"
    );
    // A model trained on other features is refused with the difference named.
    let mut foreign: serde_json::Value = serde_json::from_slice(models::model::BUNDLED).unwrap();
    foreign["schema"][0] = "hour_of_day".into();
    std::fs::write(dir.path().join("bad.json"), foreign.to_string()).unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[models]\nanomaly = \"bad.json\"\n[secrets]\nkey_file = \"key\"\n",
    )
    .unwrap();
    let err = fails(dir.path(), &["check-config", "--config", "bad.toml"]);
    assert!(
        err.contains("models.anomaly bad.json") && err.contains("hour_of_day"),
        "{err}"
    );
}

/// `--config` is read by the model's verbs too: `evaluate` decides under the
/// config's `risk.policy` (here one that refuses everything), and a config
/// that cannot be read stops every verb, `generate` included.
#[test]
fn the_model_verbs_read_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let missing = fails(
        dir.path(),
        &[
            "--config",
            "nowhere.toml",
            "generate",
            "--accounts",
            "5",
            "--days",
            "2",
            "--out",
            "x.csv",
        ],
    );
    assert!(missing.contains("nowhere.toml"), "{missing}");
    run(
        dir.path(),
        &[
            "generate",
            "--seed",
            "5",
            "--accounts",
            "40",
            "--days",
            "7",
            "--out",
            "traffic.csv",
        ],
    );
    run(
        dir.path(),
        &["train", "--input", "traffic.csv", "--out", "model.json"],
    );
    let levels = |config: Option<&str>| {
        let mut args = vec![
            "evaluate",
            "--model",
            "model.json",
            "--input",
            "traffic.csv",
            "--scores",
            "scores.csv",
        ];
        if let Some(config) = config {
            args.extend(["--config", config]);
        }
        run(dir.path(), &args);
        let scores = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
        scores
            .lines()
            .skip(1)
            .map(|row| row.rsplit(',').next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let bundled = levels(None);
    assert!(bundled.iter().any(|l| l != "deny"), "{bundled:?}");

    std::fs::write(
        dir.path().join("deny.toml"),
        resetgate_tests::fixtures::deny_all_policy(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[risk]\npolicy = \"deny.toml\"\n",
    )
    .unwrap();
    let configured = levels(Some("config.toml"));
    assert_eq!(configured.len(), bundled.len());
    assert!(configured.iter().all(|l| l == "deny"), "{configured:?}");
}
