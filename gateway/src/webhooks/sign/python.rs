//! Independent verification: the official Standard Webhooks Python library
//! (`tests/webhooks/requirements.txt`) checks what [`super::sign`] produces.
//!
//! The library lives in a virtualenv under `target/webhooks-venv/`, built by
//! `resetgate_services::python::venv` (race-safe across test processes; a
//! missing `python3`, `venv` or `pip` is a failure with the reason, never a skip).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use serde_json::json;

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

/// The venv's interpreter, building the venv first if needed.
fn venv_python() -> PathBuf {
    resetgate_services::python::venv(
        &workspace_root().join("tests/webhooks/requirements.txt"),
        &target_dir(),
        "webhooks-venv",
    )
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
