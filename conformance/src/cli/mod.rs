//! Argument parsing and dispatch. Exit codes (`cli.md`): 0 success; 1 evidence invalid, a check or
//! invariant failed, or an attack outcome differs from hardware; 2 usage error or unreadable input.

#![allow(clippy::large_enum_variant)] // clap argument enums are built once per process

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod gpu;
pub mod serve;
pub mod snp;
pub mod snp_mem;
pub mod suite;
pub mod tdx;
pub mod tdx_mem;

/// cvmsim: simulated AMD SEV-SNP, Intel TDX and NVIDIA H100 roots of trust, and a conformance suite.
#[derive(Debug, Parser)]
#[command(name = "cvmsim", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands, grouped by platform.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// AMD SEV-SNP: reports, measurement, verification, memory model.
    #[command(subcommand)]
    Snp(snp::Cmd),
    /// Intel TDX: quotes, measurement, verification, memory model.
    #[command(subcommand)]
    Tdx(tdx::Cmd),
    /// NVIDIA H100: SPDM evidence, RIMs, verification, CPU-GPU channel.
    #[command(subcommand)]
    Gpu(gpu::Cmd),
    /// The conformance suite: run it, or score a verifier against its catalogue.
    #[command(subcommand)]
    Conformance(suite::ConformanceCmd),
    /// Verify one evidence folder of any platform.
    Verify(suite::VerifyDirArgs),
    /// The test-vector catalogue.
    #[command(subcommand)]
    Vectors(suite::VectorsCmd),
    /// The AMD KDS, Intel PCS, NVIDIA RIM and OCSP services for the simulated PKI, on loopback.
    Serve(serve::ServeArgs),
}

/// How a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Evidence invalid, a check or invariant failed (exit 1). The message was already printed.
    Invalid,
    /// Usage error or unreadable input (exit 2), with a message naming the file, field and offset.
    Input(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Input(e.to_string())
    }
}

/// A command's result.
pub type CmdResult = Result<(), Failure>;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let r = match cli.command {
        Command::Snp(c) => snp::run(c),
        Command::Tdx(c) => tdx::run(c),
        Command::Gpu(c) => gpu::run(c),
        Command::Conformance(c) => suite::run_conformance(c),
        Command::Verify(a) => suite::run_verify_dir(a),
        Command::Vectors(c) => suite::run_vectors(c),
        Command::Serve(a) => serve::run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid) => ExitCode::from(1),
        Err(Failure::Input(msg)) => {
            eprintln!("cvmsim: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Reads a file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

/// Prints a JSON document on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> CmdResult {
    let s = serde_json::to_string_pretty(value)?;
    println!("{s}");
    Ok(())
}

/// Parses `--now` (RFC 3339) or takes the system clock.
pub fn now_arg(now: Option<&str>) -> Result<i64, Failure> {
    match now {
        Some(s) => sim_core::time::parse_rfc3339(s).map_err(Failure::Input),
        None => Ok(sim_core::time::now()),
    }
}

/// Prints a verdict (JSON or human) and turns it into the exit status.
pub fn finish_verdict(v: &sim_core::Verdict, json: bool) -> CmdResult {
    if json {
        print_json(v)?;
    } else {
        print!("{}", v.render_human());
    }
    if v.is_valid() {
        Ok(())
    } else {
        Err(Failure::Invalid)
    }
}

/// Prints an attack report (JSON or human); exit 1 when the outcome differs from hardware.
pub fn finish_attack(r: &sim_core::scenario::AttackReport, json: bool) -> CmdResult {
    if json {
        print_json(r)?;
    } else {
        print!("{}", r.render_human());
    }
    if r.matches_hardware() {
        Ok(())
    } else {
        Err(Failure::Invalid)
    }
}

/// Prints a fuzz report (JSON or human); exit 1 when a violation was found.
pub fn finish_fuzz(r: &sim_core::scenario::FuzzReport, json: bool) -> CmdResult {
    if json {
        print_json(r)?;
    } else {
        match &r.violation {
            None => println!("{} cases, seed {}: no invariant violated", r.cases, r.seed),
            Some(v) => {
                println!(
                    "{} cases, seed {}: invariant {} violated: {}",
                    r.cases, r.seed, v.invariant, v.detail
                );
                for (i, s) in v.trace.iter().enumerate() {
                    println!("{:3}. {:<12} {:<60} -> {}", i + 1, s.actor, s.op, s.result);
                }
            }
        }
    }
    if r.violation.is_none() {
        Ok(())
    } else {
        Err(Failure::Invalid)
    }
}
