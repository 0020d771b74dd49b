//! `cvmsim tdx ...` (contract: `cli.md`).

use clap::Subcommand;

use super::CmdResult;

/// `cvmsim tdx` commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Memory-model commands (attack, rules, fuzz).
    #[command(flatten)]
    Mem(super::tdx_mem::MemCmd),
}

/// Runs a `tdx` command.
pub fn run(cmd: Cmd) -> CmdResult {
    match cmd {
        Cmd::Mem(c) => super::tdx_mem::run(c),
    }
}
