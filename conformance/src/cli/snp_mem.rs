//! `cvmsim snp attack | rules | fuzz | trace`: the SNP memory model (flattened into `cvmsim snp`).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use sim_core::rules::RuleSet;
use sim_snp::memory::{attack, fuzz, rules, trace};

use super::{finish_attack, finish_fuzz, print_json, read_file, CmdResult, Failure};

/// Memory-model commands of `cvmsim snp`.
#[derive(Debug, Subcommand)]
pub enum MemCmd {
    /// Attack scenarios on the memory model: `attack list`, or `attack NAME [--json]`.
    Attack(AttackArgs),
    /// Lists the enforcement rules of the memory model: ID, a space, a description.
    Rules,
    /// The invariant fuzzer; exit 1 with a counterexample when an invariant breaks.
    Fuzz(FuzzArgs),
    /// Memory-model traces (JSON lines): record a fuzz case or scenario, replay a trace.
    #[command(subcommand)]
    Trace(TraceCmd),
}

/// `attack` arguments.
#[derive(Debug, Args)]
pub struct AttackArgs {
    /// `list`, or a scenario name.
    pub name: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Switch a rule off (repeatable), to see what it is for.
    #[arg(long = "disable-rule", value_name = "ID")]
    pub disable_rule: Vec<String>,
}

/// `fuzz` arguments.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Number of cases.
    #[arg(long, default_value_t = 1000)]
    pub cases: u64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Switch a rule off (repeatable).
    #[arg(long = "disable-rule", value_name = "ID")]
    pub disable_rule: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `trace` commands.
#[derive(Debug, Subcommand)]
pub enum TraceCmd {
    /// Records a fuzz case (`--case N --seed S`) or a scenario (`--scenario NAME`) as JSON lines.
    Record {
        /// Output file (written atomically).
        #[arg(long)]
        out: PathBuf,
        /// Record this scenario instead of a fuzz case.
        #[arg(long)]
        scenario: Option<String>,
        /// Fuzz case number.
        #[arg(long, default_value_t = 0)]
        case: u64,
        /// Fuzz seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Switch a rule off (repeatable).
        #[arg(long = "disable-rule", value_name = "ID")]
        disable_rule: Vec<String>,
    },
    /// Replays a trace; exit 1 when any result differs from the recorded one.
    Replay {
        /// The trace file.
        file: PathBuf,
        /// Switch a rule off (repeatable).
        #[arg(long = "disable-rule", value_name = "ID")]
        disable_rule: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn ruleset(disabled: &[String]) -> Result<RuleSet, Failure> {
    RuleSet::with_disabled(rules::RULES, disabled).map_err(|e| Failure::Input(e.to_string()))
}

fn scenario(name: &str) -> Result<&'static attack::Scenario, Failure> {
    attack::find(name).ok_or_else(|| {
        Failure::Input(format!(
            "unknown scenario {name:?} (see `cvmsim snp attack list`)"
        ))
    })
}

/// Runs a memory-model command.
pub fn run(cmd: MemCmd) -> CmdResult {
    match cmd {
        MemCmd::Attack(a) if a.name == "list" => {
            for s in attack::SCENARIOS {
                let e = match s.expected {
                    sim_core::scenario::Outcome::Blocked => "blocked",
                    sim_core::scenario::Outcome::Succeeded => "succeeded",
                };
                println!("{:<28} {:<9} {}", s.name, e, s.description);
            }
            Ok(())
        }
        MemCmd::Attack(a) => {
            let rules = ruleset(&a.disable_rule)?;
            let report = scenario(&a.name)?.run(&rules);
            finish_attack(&report, a.json)
        }
        MemCmd::Rules => {
            for r in rules::RULES {
                println!("{} {}", r.id, r.description);
            }
            Ok(())
        }
        MemCmd::Fuzz(f) => {
            let rules = ruleset(&f.disable_rule)?;
            let tty = std::io::stderr().is_terminal();
            let report = fuzz::fuzz(f.cases, f.seed, &rules, |n| {
                if tty && (n % 1000 == 0 || n == f.cases) {
                    eprint!("\rfuzz: {n}/{} cases", f.cases);
                }
            });
            if tty {
                eprintln!();
            }
            finish_fuzz(&report, f.json)
        }
        MemCmd::Trace(TraceCmd::Record {
            out,
            scenario: name,
            case,
            seed,
            disable_rule,
        }) => {
            let rules = ruleset(&disable_rule)?;
            let events = match name {
                Some(n) => scenario(&n)?.run(&rules).steps,
                None => match fuzz::run_case(&rules, seed, &fuzz::case_ops(seed, case)) {
                    Ok(t) => t,
                    Err(v) => v.trace,
                },
            };
            sim_core::files::write_atomic(&out, trace::to_json_lines(&events).as_bytes())
                .map_err(|e| Failure::Input(format!("{}: {e}", out.display())))?;
            println!("{} events -> {}", events.len(), out.display());
            Ok(())
        }
        MemCmd::Trace(TraceCmd::Replay {
            file,
            disable_rule,
            json,
        }) => {
            let rules = ruleset(&disable_rule)?;
            let bytes = read_file(&file)?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            let events = trace::parse_json_lines(&text)
                .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            let report = trace::replay(&events, &rules)
                .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            if json {
                print_json(&report)?;
            } else {
                for m in &report.mismatches {
                    println!(
                        "line {}: {} {}: recorded {:?}, model gives {:?}",
                        m.line, m.recorded.actor, m.recorded.op, m.recorded.result, m.replayed
                    );
                }
                println!(
                    "{} events replayed, {} mismatches",
                    report.events,
                    report.mismatches.len()
                );
            }
            if report.mismatches.is_empty() {
                Ok(())
            } else {
                Err(Failure::Invalid)
            }
        }
    }
}
