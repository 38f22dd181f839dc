//! Python tools from `PyPI` that tests run as independent peers (the official
//! Standard Webhooks library, an SMTP sink), each in its own virtualenv.
//!
//! A venv lives under `<target>/<name>/<hash of requirements.txt>`. It is built
//! once into a private temporary directory and renamed into place, so
//! concurrent test processes (nextest runs each test in its own process) never
//! see a half-built venv: the loser of the rename race throws its copy away and
//! uses the winner's. A changed requirements file gets a new directory. Missing
//! `python3`, `venv` or `pip`, or an unreachable index, is a failure with the
//! reason, never a skip.

use std::hash::Hasher as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The interpreter of the venv for `requirements`, under `target/<name>/`,
/// building it first if needed.
pub fn venv(requirements: &Path, target: &Path, name: &str) -> PathBuf {
    let pinned = std::fs::read(requirements)
        .unwrap_or_else(|e| panic!("reading {}: {e}", requirements.display()));
    let parent = target.join(name);
    let venv = parent.join(format!("{:016x}", fnv1a(&pinned)));
    let python = venv.join("bin/python");
    if python.exists() {
        return python;
    }
    std::fs::create_dir_all(&parent)
        .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
    let scratch = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(&parent)
        .unwrap_or_else(|e| panic!("a scratch directory in {}: {e}", parent.display()));
    let building = scratch.path().join("venv");
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&building),
        &format!(
            "creating the {name} venv (python3 with the venv module is required: install \
             python3 and python3-venv)"
        ),
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
            .arg(requirements),
        &format!(
            "pip install -r {} (needs pip and a reachable PyPI)",
            requirements.display()
        ),
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

/// FNV-1a, 64 bits: a stable name for a requirements file's contents (not a
/// security hash; it only keys a cache directory).
fn fnv1a(bytes: &[u8]) -> u64 {
    struct Fnv(u64);
    impl std::hash::Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    hasher.write(bytes);
    hasher.finish()
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
