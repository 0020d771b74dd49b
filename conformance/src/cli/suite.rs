//! `cvmsim conformance run|score`, `cvmsim verify DIR`, `cvmsim vectors generate|export`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use sim_core::Platform;

use super::{finish_verdict, now_arg, print_json, CmdResult, Failure};
use crate::{catalogue, evidence_dir, score, suite};

/// Output format of `conformance run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table per platform.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML.
    Junit,
}

/// Platform filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformArg {
    /// SEV-SNP.
    Snp,
    /// TDX.
    Tdx,
    /// GPU.
    Gpu,
}

impl From<PlatformArg> for Platform {
    fn from(p: PlatformArg) -> Platform {
        match p {
            PlatformArg::Snp => Platform::Snp,
            PlatformArg::Tdx => Platform::Tdx,
            PlatformArg::Gpu => Platform::Gpu,
        }
    }
}

/// `cvmsim conformance` commands.
#[derive(Debug, Subcommand)]
pub enum ConformanceCmd {
    /// Run the suite on the simulators (default) or on captured evidence (--replay).
    Run(RunArgs),
    /// Score an external verifier command against the catalogue.
    Score(ScoreArgs),
}

/// `conformance run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only this platform.
    #[arg(long, value_enum)]
    pub platform: Option<PlatformArg>,
    /// Replay a folder of captures (one sub-folder per capture) instead of the simulators.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Verification time for old captures, RFC 3339.
    #[arg(long)]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// `conformance score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The verifier command; `{}` is the case folder; exit 0 means accept.
    #[arg(long)]
    pub verifier: String,
    /// Only this platform.
    #[arg(long, value_enum)]
    pub platform: Option<PlatformArg>,
    /// Use an exported catalogue folder instead of generating one.
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cvmsim vectors` commands.
#[derive(Debug, Subcommand)]
pub enum VectorsCmd {
    /// Regenerate the committed catalogue (default `vectors/catalogue`); with --check, only compare.
    Generate(GenerateArgs),
    /// Write the catalogue's case folders to DIR.
    Export(ExportArgs),
}

/// `vectors generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder of the committed catalogue.
    #[arg(long, default_value = "vectors/catalogue")]
    pub out: PathBuf,
    /// Compare with the folder instead of writing; exit 1 on any difference.
    #[arg(long)]
    pub check: bool,
}

/// `vectors export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Only this platform.
    #[arg(long, value_enum)]
    pub platform: Option<PlatformArg>,
}

/// `cvmsim verify DIR`.
#[derive(Debug, Args)]
pub struct VerifyDirArgs {
    /// The evidence folder.
    pub dir: PathBuf,
    /// Verification time, RFC 3339 (default: the folder's manifest, else now).
    #[arg(long)]
    pub now: Option<String>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

fn progress(label: &'static str) -> impl Fn(usize, usize) {
    let tty = std::io::stderr().is_terminal();
    move |i, n| {
        if tty {
            eprint!("\r{label} {i}/{n}");
            if i == n {
                eprintln!();
            }
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cvmsim-{name}-{}", std::process::id()))
}

/// Runs a `conformance` command.
pub fn run_conformance(cmd: ConformanceCmd) -> CmdResult {
    match cmd {
        ConformanceCmd::Run(a) => {
            let platform = a.platform.map(Platform::from);
            let mut report = suite::RunReport::default();
            if let Some(dir) = &a.replay {
                let now = a
                    .now
                    .as_deref()
                    .map(sim_core::time::parse_rfc3339)
                    .transpose()
                    .map_err(Failure::Input)?;
                suite::run_replay(dir, now, platform, &mut report)
                    .map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?;
                if report.checks.is_empty() {
                    return Err(Failure::Input(format!(
                        "{}: no evidence folders found",
                        dir.display()
                    )));
                }
            } else {
                let cases = catalogue::cases(platform).map_err(Failure::Input)?;
                let dir = scratch("conformance");
                let r = suite::run_catalogue(&cases, &dir, &mut report, &progress("catalogue"));
                let _ = std::fs::remove_dir_all(&dir);
                r.map_err(|e| Failure::Input(e.to_string()))?;
                crate::suite::run_scenarios(platform, &mut report);
            }
            match a.format {
                Format::Human => print!("{}", report.render_human()),
                Format::Json => print_json(&report)?,
                Format::Junit => print!("{}", report.render_junit()),
            }
            if report.ok() {
                Ok(())
            } else {
                Err(Failure::Invalid)
            }
        }
        ConformanceCmd::Score(a) => {
            let platform = a.platform.map(Platform::from);
            let cases = catalogue::cases(platform).map_err(Failure::Input)?;
            let (root, temp) = match &a.cases {
                Some(d) => (d.clone(), false),
                None => {
                    let d = scratch("score");
                    catalogue::export(&cases, &d).map_err(|e| Failure::Input(e.to_string()))?;
                    (d, true)
                }
            };
            let s = score::score(&cases, &root, &a.verifier, &progress("score"));
            if temp {
                let _ = std::fs::remove_dir_all(&root);
            }
            let s = s.map_err(Failure::Input)?;
            if a.json {
                print_json(&s)?;
            } else {
                for d in &s.disagreements {
                    println!(
                        "DISAGREE {:<60} expected {:?}, got {:?}: {}",
                        d.case, d.expected, d.got, d.defect
                    );
                }
                println!("{} of {} cases agree", s.agree, s.cases);
            }
            if s.disagreements.is_empty() {
                Ok(())
            } else {
                Err(Failure::Invalid)
            }
        }
    }
}

/// Runs a `vectors` command.
pub fn run_vectors(cmd: VectorsCmd) -> CmdResult {
    match cmd {
        VectorsCmd::Generate(a) => {
            let cases = catalogue::cases(None).map_err(Failure::Input)?;
            if a.check {
                let diff = catalogue::diff(&cases, &a.out);
                for d in &diff {
                    println!("{d}");
                }
                println!("{} cases, {} differences", cases.len(), diff.len());
                return if diff.is_empty() {
                    Ok(())
                } else {
                    Err(Failure::Invalid)
                };
            }
            catalogue::export(&cases, &a.out)
                .map_err(|e| Failure::Input(format!("{}: {e}", a.out.display())))?;
            println!("{} cases written to {}", cases.len(), a.out.display());
            Ok(())
        }
        VectorsCmd::Export(a) => {
            let cases = catalogue::cases(a.platform.map(Platform::from)).map_err(Failure::Input)?;
            catalogue::export(&cases, &a.out)
                .map_err(|e| Failure::Input(format!("{}: {e}", a.out.display())))?;
            println!("{} cases written to {}", cases.len(), a.out.display());
            Ok(())
        }
    }
}

/// Runs `verify DIR`.
pub fn run_verify_dir(a: VerifyDirArgs) -> CmdResult {
    let now = match &a.now {
        Some(_) => Some(now_arg(a.now.as_deref())?),
        None => None,
    };
    let v = evidence_dir::verify_dir(&a.dir, now).map_err(|e| Failure::Input(e.to_string()))?;
    finish_verdict(&v, a.json)
}
