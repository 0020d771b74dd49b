//! `cvmsim tdx attack | rules | fuzz`: the TDX memory model (flattened into `cvmsim tdx`).

use clap::Subcommand;

use super::CmdResult;

/// Memory-model commands of `cvmsim tdx`.
#[derive(Debug, Subcommand)]
pub enum MemCmd {}

/// Runs a memory-model command.
pub fn run(cmd: MemCmd) -> CmdResult {
    match cmd {}
}
