//! Risk policies shared by the gateway's router tests and the end-to-end tests.

/// `policy` (TOML text) with its `anomaly = N` line set to `anomaly = 0`: the
/// anomaly model still scores and explains every attempt, but adds no points,
/// so levels do not hang on how a test network or a headless browser looks to
/// the model. Panics if the policy has no such line.
pub fn without_anomaly_points(policy: &str) -> String {
    let mut found = false;
    let quiet: Vec<&str> = policy
        .lines()
        .map(|line| {
            if line.starts_with("anomaly = ") {
                found = true;
                "anomaly = 0"
            } else {
                line
            }
        })
        .collect();
    assert!(found, "the policy has no `anomaly = ` line");
    quiet.join("\n") + "\n"
}
