//! Schemathesis (`PyPI`, pinned in `tests/schemathesis/requirements.txt`)
//! against the `/openapi.json` of a running gateway: every operation is
//! called with data generated from its schemas (valid and invalid), with and
//! without its credentials, and in sequences the document's links suggest
//! (a reset started, then its status, challenge and verify). Zero 5xx and
//! zero answers that break the document, or the run fails with Schemathesis's
//! report.
//!
//! Bounded and reproducible: [`MAX_EXAMPLES`] test cases per operation and
//! phase, the fixed [`SEED`], no example database. Checks: `all` of the
//! installed version (`not_a_server_error`, `status_code_conformance`,
//! `content_type_conformance`, `response_headers_conformance`,
//! `response_schema_conformance`, `negative_data_rejection`,
//! `positive_data_acceptance`, `missing_required_header`,
//! `unsupported_method`, `allow_header_conformance`, `use_after_free`,
//! `ensure_resource_availability`, `ignored_auth`,
//! `object_level_authorization`); none is excluded.
//! `tests/schemathesis/schemathesis.toml` gives the credentials per security
//! scheme and names the operations where a schema-valid request may also get
//! the contract's 400 or 422 for data that is well formed but wrong (a wrong
//! code, an unverifiable WebAuthn answer, an invalid policy file, a refused
//! password).
//!
//! The gateway runs with `server.rate_limit_per_second` raised: at the
//! default (20/s per address) most of the run's requests would be answered
//! 429 `rate_limited` (documented on every `/v1` operation) and never reach a
//! handler. The per-account limits stay as they are.
//!
//! The venv is built under `target/schemathesis-venv/` (a missing `python3`,
//! `venv` or `pip` fails the test); reports go to
//! `target/test-artifacts/schemathesis/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use resetgate_tests::binary::workspace_root;
use resetgate_tests::fixtures::{ALICE, BOB};
use resetgate_tests::{Gateway, flows};

/// Test cases per operation (per phase that generates them).
const MAX_EXAMPLES: &str = "40";
/// Hypothesis's seed: the same run every time.
const SEED: &str = "20261206";
/// The longest the run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_mins(5);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The venv's interpreter (built on first use).
async fn schemathesis_python() -> PathBuf {
    let requirements = workspace_root().join("tests/schemathesis/requirements.txt");
    let target = target_dir();
    tokio::task::spawn_blocking(move || {
        resetgate_services::python::venv(&requirements, &target, "schemathesis-venv")
    })
    .await
    .expect("building the venv does not panic")
}

/// `resetgate admin api-key create` with every scope: the key it prints once.
async fn api_key(gw: &Gateway) -> String {
    let made = gw
        .cli_ok(&[
            "admin",
            "api-key",
            "create",
            "schemathesis",
            "--scope",
            "admin",
            "--scope",
            "read",
            "--scope",
            "evaluate",
        ])
        .await;
    made.stdout
        .split_whitespace()
        .find(|w| w.starts_with("rgk_"))
        .unwrap_or_else(|| panic!("no key in {made}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let python = schemathesis_python().await;
    let gw = Gateway::builder()
        .env("RESETGATE__SERVER__RATE_LIMIT_PER_SECOND", "100000")
        .start()
        .await;
    gw.import_users(&[ALICE, BOB]).await;
    let key = api_key(&gw).await;
    let token = flows::login(gw.api(), ALICE.name, ALICE.password).await;

    let base = gw.api().url("");
    let reports = target_dir().join("test-artifacts/schemathesis");
    std::fs::create_dir_all(&reports).expect("the report directory");
    let config = workspace_root().join("tests/schemathesis/schemathesis.toml");
    let started = Instant::now();
    let mut run = tokio::process::Command::new(&python);
    run.args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args([
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
        ])
        .args([
            "--generation-database",
            "none",
            "--workers",
            "2",
            "--no-color",
        ])
        .args([
            "--request-timeout",
            "30",
            "--report",
            "junit",
            "--report-dir",
        ])
        .arg(&reports)
        .env("RESETGATE_ST_API_KEY", &key)
        .env("RESETGATE_ST_USER_TOKEN", &token)
        .current_dir(gw.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, run.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "schemathesis ran {:.0?} (reports in {}):\n{report}",
        started.elapsed(),
        reports.display()
    );
    assert!(
        output.status.success(),
        "schemathesis found failures ({}); its report:\n{report}",
        output.status
    );
    // The gateway is still healthy, and the credentials still work.
    gw.api().get("/healthz").await.expect(200);
    let me = gw.api().get_auth("/v1/me/factors", &token).await.ok();
    assert!(me["factors"].is_array(), "{me}");
    assert_server_errors_absent(gw.root(), &gw.log());
}

/// No request ended in a 5xx: the gateway logs every internal error.
fn assert_server_errors_absent(root: &Path, log: &str) {
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| {
            ["internal_error", "store_unavailable", "panicked"]
                .iter()
                .any(|sign| line.contains(sign))
        })
        .collect();
    assert!(
        errors.is_empty(),
        "the gateway logged failures during the run (directory {}):\n{}",
        root.display(),
        errors.join("\n")
    );
}

#[test]
fn the_requirements_pin_every_package() {
    let text =
        std::fs::read_to_string(workspace_root().join("tests/schemathesis/requirements.txt"))
            .expect("tests/schemathesis/requirements.txt");
    let pins: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        pins.iter().any(|l| l.starts_with("schemathesis==")),
        "{text}"
    );
    for line in pins {
        assert!(line.contains("=="), "not pinned: {line}");
    }
}
