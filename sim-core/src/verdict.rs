//! Verifier verdicts: a list of checks, each naming the rule it applies.
//!
//! The JSON form is the contract of `cli.md`:
//! `{"platform": "snp", "verdict": "valid"|"invalid", "checks": [{"id", "ok", "detail"}], "claims": {...}}`.

use serde::{Deserialize, Serialize};

/// The platform a piece of evidence belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// AMD SEV-SNP.
    Snp,
    /// Intel TDX.
    Tdx,
    /// NVIDIA H100 (and later) GPU confidential computing.
    Gpu,
}

impl Platform {
    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Snp => "snp",
            Platform::Tdx => "tdx",
            Platform::Gpu => "gpu",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check a verifier ran: the rule it applies, whether it held, and what was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Rule ID, e.g. `SNP-REPORT-SIGNATURE`.
    pub id: String,
    /// Whether the rule held.
    pub ok: bool,
    /// Human-readable detail: what was compared, which field, which offset.
    pub detail: String,
}

/// The outcome of verifying one piece of evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Which platform the evidence is for.
    pub platform: Platform,
    /// `"valid"` when every check held, else `"invalid"` (kept in sync by [`Verdict::finish`]).
    pub verdict: String,
    /// Every check run, in the order it ran.
    pub checks: Vec<Check>,
    /// Claims extracted from the evidence (platform-specific JSON object).
    pub claims: serde_json::Value,
}

impl Verdict {
    /// An empty verdict for `platform`, valid until a check fails.
    pub fn new(platform: Platform) -> Self {
        Verdict {
            platform,
            verdict: "valid".into(),
            checks: Vec::new(),
            claims: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Records a check.
    pub fn check(&mut self, id: impl Into<String>, ok: bool, detail: impl Into<String>) -> bool {
        self.checks.push(Check {
            id: id.into(),
            ok,
            detail: detail.into(),
        });
        if !ok {
            self.verdict = "invalid".into();
        }
        ok
    }

    /// Records a passing check.
    pub fn pass(&mut self, id: impl Into<String>, detail: impl Into<String>) {
        self.check(id, true, detail);
    }

    /// Records a failing check.
    pub fn fail(&mut self, id: impl Into<String>, detail: impl Into<String>) {
        self.check(id, false, detail);
    }

    /// Sets a claim.
    pub fn claim(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        if let serde_json::Value::Object(map) = &mut self.claims {
            map.insert(key.to_string(), value.into());
        }
    }

    /// Recomputes `verdict` from the checks and returns whether it is valid.
    pub fn finish(&mut self) -> bool {
        let ok = self.checks.iter().all(|c| c.ok);
        self.verdict = if ok { "valid" } else { "invalid" }.into();
        ok
    }

    /// Whether every check held.
    pub fn is_valid(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The first failing check, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.ok)
    }

    /// Whether a check with this rule ID failed.
    pub fn failed(&self, id: &str) -> bool {
        self.checks.iter().any(|c| c.id == id && !c.ok)
    }

    /// Human-readable rendering, one line a check.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!(
                "{:4} {:<34} {}\n",
                if c.ok { "ok" } else { "FAIL" },
                c.id,
                c.detail
            ));
        }
        out.push_str(&format!("{}: {}\n", self.platform, self.verdict));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_check_makes_the_verdict_invalid() {
        let mut v = Verdict::new(Platform::Snp);
        v.pass("A", "fine");
        assert!(v.is_valid());
        v.fail("B", "broken");
        assert!(!v.is_valid());
        assert_eq!(v.verdict, "invalid");
        assert!(v.failed("B"));
        assert!(!v.failed("A"));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["platform"], "snp");
        assert_eq!(json["checks"][1]["ok"], false);
    }
}
