//! Independent verification: the official Standard Webhooks Python library
//! (`tests/webhooks/requirements.txt`) checks what [`super::sign`] produces.
//!
//! The library lives in a virtualenv under `target/webhooks-venv/<hash of
//! requirements.txt>`. It is built once into a private temporary directory and
//! renamed into place, so concurrent test processes (nextest runs each test in
//! its own process) never see a half-built venv: the loser of the rename race
//! throws its copy away and uses the winner's. A changed requirements file gets a
//! new directory. Missing `python3`, `venv` or `pip`, or an unreachable index, is
//! a failure with the reason, never a skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{WebhookSecret, headers, message_id};
use crate::webhooks::{Envelope, EventType};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("gateway/ has a parent")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The venv's interpreter, building the venv first if needed.
fn venv_python() -> PathBuf {
    let tests = workspace_root().join("tests/webhooks");
    let requirements = tests.join("requirements.txt");
    let pinned = std::fs::read(&requirements)
        .unwrap_or_else(|e| panic!("reading {}: {e}", requirements.display()));
    let hash = hex::encode(&Sha256::digest(&pinned)[..8]);
    let parent = target_dir().join("webhooks-venv");
    let venv = parent.join(&hash);
    let python = venv.join("bin/python");
    if python.exists() {
        return python;
    }
    std::fs::create_dir_all(&parent).unwrap();
    let scratch = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(&parent)
        .unwrap();
    let building = scratch.path().join("venv");
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&building),
        "creating the Standard Webhooks venv (python3 with the venv module is required: \
         install python3 and python3-venv)",
    );
    run(
        Command::new(building.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "pip install -r tests/webhooks/requirements.txt (needs pip and a reachable PyPI)",
    );
    // Venvs survive a move when run as `<venv>/bin/python`: the interpreter finds
    // its `pyvenv.cfg` and site-packages relative to itself.
    match std::fs::rename(&building, &venv) {
        Ok(()) => {}
        // Another process finished first; its venv is as good as ours.
        Err(_) if python.exists() => {}
        Err(e) => panic!("moving the venv to {}: {e}", venv.display()),
    }
    python
}

/// Run `verify.py` on one delivery; `Ok` with its output when it verifies.
fn python_verify(
    python: &Path,
    secret: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Result<String, String> {
    let script = workspace_root().join("tests/webhooks/verify.py");
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .collect();
    let input = json!({"secret": secret, "headers": headers, "body": body}).to_string();
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(text),
        Some(1) => Err(text),
        _ => panic!("verify.py failed to run ({}): {text}", output.status),
    }
}

/// A realistic body: a `reset.denied` envelope as the dispatcher will send it.
fn realistic_body(now: SystemTime) -> String {
    let event = crate::webhooks::ocsf::tests::sample_event(EventType::ResetDenied, now);
    let envelope = Envelope::new(&event, &crate::webhooks::ocsf::Producer::default());
    String::from_utf8(envelope.to_body()).unwrap()
}

#[test]
fn the_official_python_library_verifies_what_we_sign() {
    let python = venv_python();
    let now = SystemTime::now();
    let timestamp = crate::time::unix(now);
    let body = realistic_body(now);
    let id = message_id();
    let current = WebhookSecret::generate(&mut rand::rng());
    let previous = WebhookSecret::generate(&mut rand::rng());

    // One secret.
    let one = headers(
        std::slice::from_ref(&current),
        &id,
        timestamp,
        body.as_bytes(),
    );
    let verdict = python_verify(&python, &current.expose(), &one, &body);
    assert!(verdict.is_ok(), "one secret: {verdict:?}\n{body}");

    // Two secrets during a rotation: a receiver holding either one accepts.
    let two = headers(
        &[current.clone(), previous.clone()],
        &id,
        timestamp,
        body.as_bytes(),
    );
    assert_eq!(two[2].1.split(' ').count(), 2);
    for (name, secret) in [("current", &current), ("previous", &previous)] {
        let verdict = python_verify(&python, &secret.expose(), &two, &body);
        assert!(verdict.is_ok(), "two secrets, {name}: {verdict:?}");
    }

    // A tampered body, and a stranger's secret, are rejected.
    let tampered = body.replacen("\"deny\"", "\"low\"", 1);
    assert_ne!(tampered, body, "the sample body has a level to tamper with");
    let verdict = python_verify(&python, &current.expose(), &two, &tampered);
    assert!(
        verdict
            .as_ref()
            .is_err_and(|why| why.contains("No matching signature")),
        "tampered body: {verdict:?}"
    );
    let stranger = WebhookSecret::generate(&mut rand::rng());
    let verdict = python_verify(&python, &stranger.expose(), &two, &body);
    assert!(verdict.is_err(), "stranger's secret: {verdict:?}");
}
