//! Finding the `resetgate` binary under test.
//!
//! The tests run a binary built beforehand instead of building it themselves: one
//! `cargo build` at a time is what a small machine can afford, and CI may want to
//! test a release build (`RESETGATE_BIN`). Cargo only sets `CARGO_BIN_EXE_*` for
//! binaries of the test's own package, so the path is worked out here.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// The binary to test: `RESETGATE_BIN`, else `<target>/debug/resetgate`, else
/// `<target>/release/resetgate`, where `<target>` is `CARGO_TARGET_DIR` or
/// `<workspace>/target`. Panics with the command to run when none exists.
pub fn resetgate_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate)
}

fn locate() -> PathBuf {
    if let Some(explicit) = std::env::var_os("RESETGATE_BIN") {
        let path = PathBuf::from(explicit);
        assert!(
            path.is_file(),
            "RESETGATE_BIN={} does not name a file; build it with `cargo build -p resetgate` \
             or unset RESETGATE_BIN",
            path.display()
        );
        return path;
    }
    let target = target_dir();
    let candidates: Vec<PathBuf> = ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join(exe_name()))
        .collect();
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return found.clone();
    }
    panic!(
        "the resetgate binary was not found (looked at {}). Build it first with \
         `cargo build -p resetgate`, or point RESETGATE_BIN at a built binary.",
        candidates
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// `CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

fn exe_name() -> String {
    format!("resetgate{}", std::env::consts::EXE_SUFFIX)
}
