//! `cvmsim snp ...` (contract: `cli.md`).

use clap::Subcommand;

use super::CmdResult;

/// `cvmsim snp` commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Memory-model commands (attack, rules, fuzz).
    #[command(flatten)]
    Mem(super::snp_mem::MemCmd),
}

/// Runs an `snp` command.
pub fn run(cmd: Cmd) -> CmdResult {
    match cmd {
        Cmd::Mem(c) => super::snp_mem::run(c),
    }
}
