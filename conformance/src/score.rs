//! `cvmsim conformance score --verifier 'CMD {}'`: runs an external verifier on every catalogue case
//! (`{}` is replaced by the case folder; exit 0 means accept) and reports agreement per case.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::catalogue::{Case, Expect};

/// One case where the verifier disagrees with the expected verdict.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Disagreement {
    /// Case ID.
    pub case: String,
    /// Expected verdict.
    pub expected: Expect,
    /// The verifier's verdict.
    pub got: Expect,
    /// The defect of the case (what the verifier let through or rejected).
    pub defect: String,
}

/// The score.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Score {
    /// Cases run.
    pub cases: usize,
    /// Cases where the verifier agreed.
    pub agree: usize,
    /// The others.
    pub disagreements: Vec<Disagreement>,
}

/// Splits a command line on whitespace, keeping single- or double-quoted words together.
pub fn split_command(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in cmd.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs `verifier` (with `{}` replaced by each case folder under `root`) on every case.
pub fn score(
    cases: &[Case],
    root: &Path,
    verifier: &str,
    progress: &dyn Fn(usize, usize),
) -> Result<Score, String> {
    let words = split_command(verifier);
    if words.is_empty() {
        return Err("--verifier is empty".into());
    }
    let mut s = Score {
        cases: cases.len(),
        agree: 0,
        disagreements: Vec::new(),
    };
    for (i, c) in cases.iter().enumerate() {
        progress(i + 1, cases.len());
        let dir = root.join(c.manifest.platform.as_str()).join(c.dir_name());
        let d = dir.to_string_lossy();
        let mut args: Vec<String> = words.iter().map(|w| w.replace("{}", &d)).collect();
        if !words.iter().any(|w| w.contains("{}")) {
            args.push(d.to_string());
        }
        let status = Command::new(&args[0])
            .args(&args[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", args[0]))?;
        let got = if status.success() {
            Expect::Valid
        } else {
            Expect::Invalid
        };
        if got == c.manifest.result {
            s.agree += 1;
        } else {
            s.disagreements.push(Disagreement {
                case: c.manifest.id.clone(),
                expected: c.manifest.result.clone(),
                got,
                defect: c.manifest.defect.clone(),
            });
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell_for_simple_quoting() {
        assert_eq!(
            split_command("a b  'c d' \"e\" {}"),
            ["a", "b", "c d", "e", "{}"]
        );
        assert_eq!(split_command("x ''"), ["x", ""]);
    }
}
