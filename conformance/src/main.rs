//! `cvmsim`: the command line of the cvmsim simulators and conformance suite (contract: `cli.md`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = conformance::cli::Cli::parse();
    conformance::cli::run(cli)
}
