//! Helpers shared by the integration tests that run the binary or read shipped files: each test
//! file that needs them declares `mod support;`.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root (where the shipped configs and results are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `stria` binary in the repository root.
pub fn stria(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("stria")
        .unwrap()
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}
