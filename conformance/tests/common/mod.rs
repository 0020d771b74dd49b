//! Helpers shared by the command-line tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `cvmsim` binary of this build.
pub fn cvmsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvmsim"))
        .args(args)
        .output()
        .expect("cvmsim runs")
}

/// A fresh scratch folder path (removed if it exists), unique to this process and `name`.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cvmsim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A path as `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
