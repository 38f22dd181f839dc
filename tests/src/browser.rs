//! Running the browser scenarios of `tests/browser/` against a [`Gateway`].
//!
//! A scenario is a Node.js script (`tests/browser/<name>.mjs`) that drives headless
//! Debian Chromium with playwright-core through the gateway's pages and exits 0
//! when every step did what the page contract says. This module checks the
//! prerequisites, runs one script against a gateway with a timeout and, when it
//! fails, panics with everything it printed (the [`Gateway`] fixture adds its log
//! tail as it drops).
//!
//! Prerequisites, none of them optional (a missing one fails the test, naming the
//! fix; `.ci/run` installs them all):
//!
//! - `node` (20 or later) on `PATH`;
//! - Chromium at `CHROMIUM_PATH`, default `/usr/bin/chromium` (`apt-get install chromium`);
//! - `tests/browser/node_modules` (`npm ci --prefix tests/browser`).
//!
//! Artifacts: every page the scenario visits is saved as a full-page screenshot
//! `NN-<scenario>-<step>.png` in `<workspace>/target/test-artifacts/browser/<scenario>/`
//! (emptied when the scenario starts), beside `stdout.log` and `stderr.log` of the
//! script; a failure adds `NN-<scenario>-failure.png` and the page's HTML.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use crate::binary::workspace_root;
use crate::fixtures::User;
use crate::gateway::Gateway;

/// The longest one scenario may run before it is killed.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_mins(3);

/// Where Debian's `chromium` package puts the browser.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

const MIN_NODE_MAJOR: u32 = 20;
const HOW_TO_INSTALL: &str = "run `.ci/run` once (it installs them), or by hand: \
    `apt-get install -y chromium` (and Node.js 20+ with npm when missing), then \
    `npm ci --prefix tests/browser`";

/// `tests/browser/`.
pub fn scripts_dir() -> PathBuf {
    workspace_root().join("tests").join("browser")
}

/// `<workspace>/target/test-artifacts/browser/<scenario>/`.
pub fn artifacts_dir(scenario: &str) -> PathBuf {
    workspace_root()
        .join("target")
        .join("test-artifacts")
        .join("browser")
        .join(scenario)
}

/// The browser the scenarios launch: `CHROMIUM_PATH`, else [`DEFAULT_CHROMIUM`].
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from)
}

/// Panics, naming every missing prerequisite and how to install it, unless Node.js
/// (20 or later), Chromium and `tests/browser/node_modules` are all there.
pub fn require_prerequisites() {
    let mut missing = Vec::new();
    match node_major() {
        Ok(major) if major >= MIN_NODE_MAJOR => {}
        Ok(major) => missing.push(format!(
            "Node.js {MIN_NODE_MAJOR} or later (`node` is version {major})"
        )),
        Err(err) => missing.push(format!("Node.js (`node --version` failed: {err})")),
    }
    let chromium = chromium_path();
    if !chromium.is_file() {
        missing.push(format!(
            "Chromium at {} (set CHROMIUM_PATH for another place)",
            chromium.display()
        ));
    }
    let playwright = scripts_dir().join("node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        missing.push(format!(
            "playwright-core in {} (not installed)",
            scripts_dir().join("node_modules").display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser tests cannot run; missing:\n  - {}\nTo install: {HOW_TO_INSTALL}",
        missing.join("\n  - ")
    );
}

fn node_major() -> Result<u32, String> {
    let output = std::process::Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| err.to_string())?;
    if !output.status.success() {
        return Err(format!("exit status {}", output.status));
    }
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .ok_or_else(|| format!("unexpected version {version:?}"))
}

/// What a scenario did.
pub struct ScenarioRun {
    pub scenario: String,
    /// `None` when it ran over [`SCENARIO_TIMEOUT`] and was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub artifacts: PathBuf,
}

impl ScenarioRun {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// The screenshots taken, in order.
    pub fn screenshots(&self) -> Vec<PathBuf> {
        let mut shots: Vec<PathBuf> = fs::read_dir(&self.artifacts)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "png"))
                    .collect()
            })
            .unwrap_or_default();
        shots.sort();
        shots
    }

    /// Panics with the scenario's output unless it exited with status 0.
    pub fn assert_success(&self) {
        let outcome = self.status.map_or_else(
            || format!("ran over {SCENARIO_TIMEOUT:?} and was killed"),
            |status| format!("exited with {status}"),
        );
        assert!(
            self.success(),
            "browser scenario `{}` {outcome}\n--- stdout ---\n{}\n--- stderr ---\n{}\n\
             --- screenshots and page HTML: {} ---",
            self.scenario,
            self.stdout,
            self.stderr,
            self.artifacts.display()
        );
    }
}

/// Runs `tests/browser/<scenario>.mjs` against `gateway` as `user`, whose password
/// the scenario changes to `new_password`; waits at most [`SCENARIO_TIMEOUT`].
/// The passwords go through the environment, the rest on the command line.
pub async fn run_scenario(
    gateway: &Gateway,
    scenario: &str,
    user: &User,
    new_password: &str,
) -> ScenarioRun {
    run_scenario_with_env(gateway, scenario, user, new_password, &[]).await
}

/// [`run_scenario`] with more environment variables for the script (e.g.
/// `RG_HELP_DESK`, what the gateway's `reset.help_desk` says, for `refusal`).
pub async fn run_scenario_with_env(
    gateway: &Gateway,
    scenario: &str,
    user: &User,
    new_password: &str,
    env: &[(&str, &str)],
) -> ScenarioRun {
    require_prerequisites();
    let script = scripts_dir().join(format!("{scenario}.mjs"));
    assert!(script.is_file(), "no scenario script {}", script.display());
    let artifacts = artifacts_dir(scenario);
    reset_dir(&artifacts);
    let stdout_path = artifacts.join("stdout.log");
    let stderr_path = artifacts.join("stderr.log");

    let mut command = tokio::process::Command::new("node");
    command
        .arg(&script)
        .arg("--base-url")
        .arg(gateway.public_url())
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--username")
        .arg(user.name)
        .env("RG_PASSWORD", user.password)
        .env("RG_NEW_PASSWORD", new_password)
        .env("CHROMIUM_PATH", chromium_path())
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(create(&stdout_path))
        .stderr(create(&stderr_path))
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run `node {}`: {err}", script.display()));
    let status = if let Ok(waited) = tokio::time::timeout(SCENARIO_TIMEOUT, child.wait()).await {
        Some(waited.unwrap_or_else(|err| panic!("waiting for node failed: {err}")))
    } else {
        // Killing node closes its pipe to Chromium, which then exits as well.
        let _ = child.kill().await;
        None
    };
    ScenarioRun {
        scenario: scenario.to_owned(),
        status,
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        artifacts,
    }
}

/// Empties (or creates) `dir`, so its screenshots are the last run's only.
fn reset_dir(dir: &Path) {
    if dir.exists() {
        fs::remove_dir_all(dir)
            .unwrap_or_else(|err| panic!("cannot empty {}: {err}", dir.display()));
    }
    fs::create_dir_all(dir).unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
}

fn create(path: &Path) -> File {
    File::create(path).unwrap_or_else(|err| panic!("cannot create {}: {err}", path.display()))
}
