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
