//! `cvmsim snp attack | rules | fuzz`: the SNP memory model (flattened into `cvmsim snp`).

use clap::Subcommand;

use super::CmdResult;

/// Memory-model commands of `cvmsim snp`.
#[derive(Debug, Subcommand)]
pub enum MemCmd {}

/// Runs a memory-model command.
pub fn run(cmd: MemCmd) -> CmdResult {
    match cmd {}
}
