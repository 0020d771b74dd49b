//! JSON-lines traces of the TDX memory model: one [`TraceEvent`] a line (`{"actor", "op", "result"}`,
//! the shape the SNP model uses), recorded from attack scenarios and fuzz counterexamples, and replayed
//! against a fresh model, which must give the same result on every line.
//!
//! The first line configures the platform: actor `platform`, op
//! `CONFIG integrity=Cryptographic|Logical seed=N frames=N disabled=ID,ID` (`disabled=` may be empty).
//! Lines from actors `host`, `guest` and `physical` are operations in the text form of
//! [`super::ops::Op`]; lines from any other actor (`platform`, `verifier`, notes) are carried along and
//! not replayed. The format is documented in `vectors/README.md`, "TDX memory traces".

use sim_core::rules::RuleSet;
use sim_core::scenario::TraceEvent;

use super::ops::Op;
use super::rules;
use super::seamcall::{Config, TdxModule};
use super::tme::IntegrityMode;

/// A trace that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("trace line {line}: {message}")]
pub struct TraceError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The configuration line of a trace.
pub fn config_event(cfg: &Config, rules: &RuleSet) -> TraceEvent {
    let disabled: Vec<&str> = rules.disabled().collect();
    TraceEvent {
        actor: "platform".into(),
        op: format!(
            "CONFIG integrity={:?} seed={} frames={} disabled={}",
            cfg.integrity,
            cfg.seed,
            cfg.frames,
            disabled.join(",")
        ),
        result: "configured".into(),
    }
}

/// Parses a configuration op.
pub fn parse_config(op: &str) -> Result<(Config, RuleSet), String> {
    let mut it = op.split_whitespace();
    if it.next() != Some("CONFIG") {
        return Err("first line is not a CONFIG line".into());
    }
    let mut cfg = Config::default();
    let mut rules = RuleSet::all();
    for t in it {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| format!("{t:?} is not key=value"))?;
        match k {
            "integrity" => {
                cfg.integrity = match v {
                    "Cryptographic" => IntegrityMode::Cryptographic,
                    "Logical" => IntegrityMode::Logical,
                    _ => return Err(format!("integrity {v:?} is not Cryptographic or Logical")),
                }
            }
            "seed" => cfg.seed = v.parse().map_err(|_| format!("seed {v:?}"))?,
            "frames" => {
                cfg.frames = v
                    .parse()
                    .ok()
                    .filter(|f| (1..=1 << 16).contains(f))
                    .ok_or_else(|| format!("frames {v:?}"))?
            }
            "disabled" => {
                let ids: Vec<&str> = v.split(',').filter(|s| !s.is_empty()).collect();
                rules =
                    RuleSet::with_disabled(rules::CATALOGUE, &ids).map_err(|e| e.to_string())?;
            }
            _ => return Err(format!("unknown CONFIG key {k:?}")),
        }
    }
    Ok((cfg, rules))
}

/// Renders events as JSON lines.
pub fn to_jsonl(events: &[TraceEvent]) -> String {
    let mut out = String::new();
    for e in events {
        if let Ok(s) = serde_json::to_string(e) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    out
}

/// Parses JSON lines (blank lines skipped).
pub fn from_jsonl(text: &str) -> Result<Vec<TraceEvent>, TraceError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let e: TraceEvent = serde_json::from_str(l).map_err(|e| TraceError {
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(e);
    }
    Ok(out)
}

/// One line whose replayed result differs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// 1-based line number.
    pub line: usize,
    /// The operation.
    pub op: String,
    /// The recorded result.
    pub recorded: String,
    /// The result of the replay.
    pub replayed: String,
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Operations replayed.
    pub replayed: usize,
    /// Lines carried along without replay (notes).
    pub skipped: usize,
    /// Lines whose result differs.
    pub mismatches: Vec<Mismatch>,
}

/// Replays a trace on a fresh model.
pub fn replay(text: &str) -> Result<ReplayReport, TraceError> {
    let events = from_jsonl(text)?;
    let first = events.first().ok_or(TraceError {
        line: 1,
        message: "empty trace".into(),
    })?;
    let (cfg, rules) =
        parse_config(&first.op).map_err(|message| TraceError { line: 1, message })?;
    let mut m = TdxModule::new(cfg, rules);
    let mut report = ReplayReport {
        replayed: 0,
        skipped: 1,
        mismatches: Vec::new(),
    };
    for (i, e) in events.iter().enumerate().skip(1) {
        if !matches!(e.actor.as_str(), "host" | "guest" | "physical") {
            report.skipped += 1;
            continue;
        }
        let op = Op::parse(&e.op).map_err(|message| TraceError {
            line: i + 1,
            message,
        })?;
        if op.actor().name() != e.actor {
            return Err(TraceError {
                line: i + 1,
                message: format!("{} is not an operation of actor {:?}", op.name(), e.actor),
            });
        }
        let (_, te) = m.step(&op);
        report.replayed += 1;
        if te.result != e.result {
            report.mismatches.push(Mismatch {
                line: i + 1,
                op: e.op.clone(),
                recorded: e.result.clone(),
                replayed: te.result,
            });
        }
    }
    Ok(report)
}
