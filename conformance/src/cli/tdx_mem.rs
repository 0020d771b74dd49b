//! `cvmsim tdx attack | rules | fuzz | trace`: the TDX memory model (flattened into `cvmsim tdx`).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use sim_core::rules::RuleSet;
use sim_tdx::memory::{attack, fuzz, rules, trace};

use super::{finish_attack, finish_fuzz, print_json, read_file, CmdResult, Failure};

/// Memory-model commands of `cvmsim tdx`.
#[derive(Debug, Subcommand)]
pub enum MemCmd {
    /// Runs a named attack scenario on the memory model (`list` lists them); exit 0 when the outcome is
    /// what a real TDX machine does.
    Attack {
        /// Scenario name, or `list`.
        name: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Switch a rule off (repeatable) to see what it is for.
        #[arg(long = "disable-rule", value_name = "ID")]
        disable_rule: Vec<String>,
        /// Also write the scenario's trace (JSON lines) to this file.
        #[arg(long, value_name = "FILE")]
        trace_out: Option<PathBuf>,
    },
    /// Lists the enforcement rules of the memory model: the rule ID, a space, a description.
    Rules,
    /// The invariant fuzzer; exit 1 with a counterexample when an invariant breaks.
    Fuzz {
        /// Number of cases.
        #[arg(long, default_value_t = 1000)]
        cases: u64,
        /// Seed of the run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Switch a rule off (repeatable).
        #[arg(long = "disable-rule", value_name = "ID")]
        disable_rule: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the counterexample's trace (JSON lines) to this file.
        #[arg(long, value_name = "FILE")]
        trace_out: Option<PathBuf>,
    },
    /// Records or replays a JSON-lines trace of the memory model.
    #[command(subcommand)]
    Trace(TraceCmd),
}

/// `cvmsim tdx trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCmd {
    /// Writes the trace of an attack scenario.
    Record {
        /// Scenario name.
        name: String,
        /// Output file (written atomically).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Replays a trace on a fresh model; exit 1 when any result differs.
    Replay {
        /// Trace file (JSON lines).
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn rule_set(ids: &[String]) -> Result<RuleSet, Failure> {
    RuleSet::with_disabled(rules::CATALOGUE, ids).map_err(|e| Failure::Input(e.to_string()))
}

fn scenario(name: &str) -> Result<&'static attack::Scenario, Failure> {
    attack::find(name).ok_or_else(|| {
        Failure::Input(format!(
            "unknown scenario {name:?} (`cvmsim tdx attack list` lists them)"
        ))
    })
}

fn write_trace(path: &std::path::Path, steps: &[sim_core::scenario::TraceEvent]) -> CmdResult {
    sim_core::files::write_atomic(path, trace::to_jsonl(steps).as_bytes())
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

/// Runs a memory-model command.
pub fn run(cmd: MemCmd) -> CmdResult {
    match cmd {
        MemCmd::Attack {
            name,
            json,
            disable_rule,
            trace_out,
        } => {
            if name == "list" {
                for s in attack::SCENARIOS {
                    println!("{} {}", s.name, s.description);
                }
                return Ok(());
            }
            let s = scenario(&name)?;
            let rules = rule_set(&disable_rule)?;
            let r = attack::run(s, &rules);
            if let Some(p) = trace_out {
                write_trace(&p, &r.steps)?;
            }
            finish_attack(&r, json)
        }
        MemCmd::Rules => {
            for r in rules::CATALOGUE {
                println!("{} {}", r.id, r.description);
            }
            Ok(())
        }
        MemCmd::Fuzz {
            cases,
            seed,
            disable_rule,
            json,
            trace_out,
        } => {
            let rules = rule_set(&disable_rule)?;
            let tty = std::io::stderr().is_terminal();
            let r = fuzz::run(cases, seed, &rules, |done| {
                if tty {
                    eprint!("\r{done}/{cases} cases");
                }
            });
            if tty {
                eprintln!();
            }
            if let (Some(p), Some(v)) = (trace_out, &r.violation) {
                write_trace(&p, &v.trace)?;
            }
            finish_fuzz(&r, json)
        }
        MemCmd::Trace(TraceCmd::Record { name, out }) => {
            let r = attack::run(scenario(&name)?, &RuleSet::all());
            write_trace(&out, &r.steps)
        }
        MemCmd::Trace(TraceCmd::Replay { file, json }) => {
            let bytes = read_file(&file)?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Failure::Input(format!("{}: not UTF-8: {e}", file.display())))?;
            let rep = trace::replay(&text)
                .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            if json {
                print_json(&rep)?;
            } else {
                for m in &rep.mismatches {
                    println!(
                        "line {}: {} -> recorded {:?}, replayed {:?}",
                        m.line, m.op, m.recorded, m.replayed
                    );
                }
                println!(
                    "{} operations replayed, {} notes skipped, {} mismatches",
                    rep.replayed,
                    rep.skipped,
                    rep.mismatches.len()
                );
            }
            if rep.mismatches.is_empty() {
                Ok(())
            } else {
                Err(Failure::Invalid)
            }
        }
    }
}
