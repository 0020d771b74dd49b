//! `cvmsim gpu ...` (contract: `cli.md`).

use clap::Subcommand;

use super::CmdResult;

/// `cvmsim gpu` commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {}

/// Runs a `gpu` command.
pub fn run(cmd: Cmd) -> CmdResult {
    match cmd {}
}
