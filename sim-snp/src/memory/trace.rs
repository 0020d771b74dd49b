//! Traces: a run as JSON lines, one [`TraceEvent`] (`{"actor", "op", "result"}`) a line, that can be
//! replayed on a fresh model (or recorded by a harness on real hardware and replayed here) to check that
//! every operation gives the recorded result. The format is documented in `vectors/README.md` ("SNP
//! memory traces").
//!
//! - The first event is the platform: actor `platform`, op `SNP_INIT product=P seed=S mem_top=0x…
//!   alias_check=0|1 badram=0|ALIAS:TARGET:LEN`, result `ok platform_info=0x…` (or the SNP_INIT error).
//! - Events with actor `analysis` are the attacker's offline reasoning (no machine operation); replay
//!   skips them.
//! - Every other event is an [`Op`] in the grammar of [`super::op`].

use sim_core::rules::RuleSet;
use sim_core::scenario::TraceEvent;

use super::machine::{Machine, MachineConfig};
use super::op::{result_text, Op};
use super::phys::BadRam;
use super::types::Product;

/// The op text of the platform event.
pub fn platform_op(cfg: &MachineConfig) -> String {
    let badram = match cfg.badram {
        Some(b) => format!("{:#x}:{:#x}:{:#x}", b.alias, b.target, b.len),
        None => "0".into(),
    };
    format!(
        "SNP_INIT product={} seed={} mem_top={:#x} alias_check={} badram={badram}",
        cfg.product.as_str(),
        cfg.seed,
        cfg.mem_top,
        u8::from(cfg.alias_check)
    )
}

fn num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses the op text of a platform event.
pub fn parse_platform(op: &str) -> Result<MachineConfig, String> {
    let mut words = op.split_whitespace();
    if words.next() != Some("SNP_INIT") {
        return Err(format!("platform op {op:?}: expected SNP_INIT"));
    }
    let mut cfg = MachineConfig::default();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("platform op: {w:?} is not key=value"))?;
        let bad = || format!("platform op: bad {k}={v}");
        match k {
            "product" => cfg.product = Product::parse(v).ok_or_else(bad)?,
            "seed" => cfg.seed = num(v).ok_or_else(bad)?,
            "mem_top" => cfg.mem_top = num(v).ok_or_else(bad)?,
            "alias_check" => cfg.alias_check = num(v).ok_or_else(bad)? == 1,
            "badram" if v == "0" => cfg.badram = None,
            "badram" => {
                let p: Vec<u64> = v.split(':').filter_map(num).collect();
                let [alias, target, len] = p[..] else {
                    return Err(bad());
                };
                cfg.badram = Some(BadRam { alias, target, len });
            }
            _ => return Err(format!("platform op: unknown key {k:?}")),
        }
    }
    Ok(cfg)
}

/// Serialises events as JSON lines.
pub fn to_json_lines(events: &[TraceEvent]) -> String {
    let mut out = String::new();
    for e in events {
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// A trace that could not be read: the line (1-based) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("trace line {line}: {reason}")]
pub struct TraceError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses JSON lines (blank lines ignored).
pub fn parse_json_lines(text: &str) -> Result<Vec<(usize, TraceEvent)>, TraceError> {
    let mut v = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let e: TraceEvent = serde_json::from_str(l).map_err(|e| TraceError {
            line: i + 1,
            reason: e.to_string(),
        })?;
        v.push((i + 1, e));
    }
    Ok(v)
}

/// One event whose replayed result differs from the recorded one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// 1-based line number.
    pub line: usize,
    /// The event as recorded.
    pub recorded: TraceEvent,
    /// The result the model gave.
    pub replayed: String,
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Events replayed (analysis events excluded).
    pub events: usize,
    /// Events whose result differs.
    pub mismatches: Vec<Mismatch>,
}

/// Replays a trace on a fresh model with `rules`: boots the platform of the first event and runs every
/// operation, comparing each result with the recorded one.
pub fn replay(events: &[(usize, TraceEvent)], rules: &RuleSet) -> Result<ReplayReport, TraceError> {
    let mut m: Option<Machine> = None;
    let mut report = ReplayReport {
        events: 0,
        mismatches: Vec::new(),
    };
    for (line, ev) in events {
        let err = |reason: String| TraceError {
            line: *line,
            reason,
        };
        if ev.actor == "analysis" {
            continue;
        }
        report.events += 1;
        let got = if ev.actor == "platform" {
            let cfg = parse_platform(&ev.op).map_err(err)?;
            match Machine::new(cfg, rules.clone()) {
                Ok(mm) => {
                    let r = format!("ok platform_info={:#x}", mm.platform_info());
                    m = Some(mm);
                    r
                }
                Err(e) => {
                    m = None;
                    e.to_string()
                }
            }
        } else {
            let op = Op::parse(&ev.actor, &ev.op).map_err(err)?;
            let Some(mm) = m.as_mut() else {
                return Err(err("operation before a booted platform event".into()));
            };
            result_text(&op.execute(mm))
        };
        if got != ev.result {
            report.mismatches.push(Mismatch {
                line: *line,
                recorded: ev.clone(),
                replayed: got,
            });
        }
    }
    Ok(report)
}
