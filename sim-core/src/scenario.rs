//! Attack-scenario reports, fuzz reports and trace events, shared by the memory models.
//!
//! JSON shapes are the contract of `cli.md`; traces are JSON lines of [`TraceEvent`] (documented in
//! `vectors/README.md`).

use serde::{Deserialize, Serialize};

/// Whether an attack got through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// An architectural rule stopped the attack.
    Blocked,
    /// The attack achieved its goal.
    Succeeded,
}

/// One step of a scenario or trace: who did what, and what the architecture answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// `host`, `guest`, `guest@vmpl1`, `sp`, `tdx-module`, `device`, ...
    pub actor: String,
    /// The operation with its arguments, e.g. `RMPUPDATE spa=0x5000 assigned=1 asid=1 gpa=0x2000`.
    pub op: String,
    /// The architectural result, e.g. `ok`, `#PF err=0x80000003`, `TDX_OPERAND_BUSY`.
    pub result: String,
}

/// The report of one attack scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttackReport {
    /// Scenario name.
    pub scenario: String,
    /// What real hardware does.
    pub expected: Outcome,
    /// What the model did.
    pub outcome: Outcome,
    /// The rule that blocked the attack, if one did.
    pub rule: Option<String>,
    /// Every step, in order.
    pub steps: Vec<TraceEvent>,
}

impl AttackReport {
    /// Whether the model behaved as hardware does.
    pub fn matches_hardware(&self) -> bool {
        self.expected == self.outcome
    }

    /// Human rendering: one line a step, then the outcome.
    pub fn render_human(&self) -> String {
        let mut out = format!("scenario {}\n", self.scenario);
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "{:3}. {:<12} {:<60} -> {}\n",
                i + 1,
                s.actor,
                s.op,
                s.result
            ));
        }
        let o = |o: Outcome| match o {
            Outcome::Blocked => "blocked",
            Outcome::Succeeded => "succeeded",
        };
        out.push_str(&format!(
            "outcome: {}{} (real hardware: {}){}\n",
            o(self.outcome),
            self.rule
                .as_deref()
                .map(|r| format!(" by {r}"))
                .unwrap_or_default(),
            o(self.expected),
            if self.matches_hardware() {
                ""
            } else {
                "  MISMATCH"
            }
        ));
        out
    }
}

/// An invariant violation found by a fuzzer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Invariant name (`confidentiality`, `integrity`, `ownership`, ...).
    pub invariant: String,
    /// What was observed.
    pub detail: String,
    /// The operations that led to it.
    pub trace: Vec<TraceEvent>,
}

/// The report of a fuzz run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuzzReport {
    /// Number of cases run.
    pub cases: u64,
    /// Seed of the run.
    pub seed: u64,
    /// Rules switched off.
    pub disabled_rules: Vec<String>,
    /// The first violation found, if any.
    pub violation: Option<Violation>,
}
