//! The conformance run: the catalogue through this project's verifiers, evidence captured on real
//! machines (`--replay`), and (per platform) the memory-model attack scenarios; results by rule ID.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use sim_core::Platform;

use crate::catalogue::{self, Case, Expect};
use crate::evidence_dir;

/// What a check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check held.
    Passed,
    /// The check failed.
    Failed,
    /// The check could not run.
    Skipped,
}

/// One check of the run.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// Platform.
    pub platform: Platform,
    /// Where it came from: `catalogue`, `replay` or `scenario`.
    pub source: String,
    /// Case, capture or scenario name.
    pub case: String,
    /// Rule ID.
    pub rule: String,
    /// Result.
    pub status: Status,
    /// What was seen.
    pub detail: String,
}

/// All checks of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    /// Every check.
    pub checks: Vec<CheckResult>,
}

impl RunReport {
    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Failed)
    }

    /// (passed, failed, skipped) per platform and rule.
    pub fn table(&self) -> BTreeMap<(String, String), (usize, usize, usize)> {
        let mut t: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
        for c in &self.checks {
            let e = t
                .entry((c.platform.to_string(), c.rule.clone()))
                .or_default();
            match c.status {
                Status::Passed => e.0 += 1,
                Status::Failed => e.1 += 1,
                Status::Skipped => e.2 += 1,
            }
        }
        t
    }

    /// The human table: one block per platform, one line per rule, then the failures.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let mut current = String::new();
        let mut totals = (0, 0, 0);
        for ((platform, rule), (p, f, s)) in self.table() {
            if platform != current {
                out.push_str(&format!(
                    "\n{:<5} {:<40} {:>7} {:>7} {:>7}\n",
                    platform, "rule", "passed", "failed", "skipped"
                ));
                current = platform;
            }
            out.push_str(&format!("      {rule:<40} {p:>7} {f:>7} {s:>7}\n"));
            totals = (totals.0 + p, totals.1 + f, totals.2 + s);
        }
        let failures: Vec<&CheckResult> = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .collect();
        if !failures.is_empty() {
            out.push_str("\nfailures:\n");
            for c in failures {
                out.push_str(&format!(
                    "  {} {} {}: {}\n",
                    c.platform, c.case, c.rule, c.detail
                ));
            }
        }
        out.push_str(&format!(
            "\n{} passed, {} failed, {} skipped\n",
            totals.0, totals.1, totals.2
        ));
        out
    }

    /// JUnit XML: one test suite per platform, one test case per check.
    pub fn render_junit(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut by: BTreeMap<String, Vec<&CheckResult>> = BTreeMap::new();
        for c in &self.checks {
            by.entry(c.platform.to_string()).or_default().push(c);
        }
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cvmsim-conformance\">\n");
        for (platform, checks) in by {
            let failures = checks.iter().filter(|c| c.status == Status::Failed).count();
            let skipped = checks
                .iter()
                .filter(|c| c.status == Status::Skipped)
                .count();
            out.push_str(&format!("  <testsuite name=\"{platform}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n", checks.len()));
            for c in checks {
                out.push_str(&format!(
                    "    <testcase classname=\"{}.{}\" name=\"{}\"",
                    esc(&c.source),
                    esc(&c.case),
                    esc(&c.rule)
                ));
                match c.status {
                    Status::Passed => out.push_str("/>\n"),
                    Status::Failed => out.push_str(&format!(
                        "><failure message=\"{}\"/></testcase>\n",
                        esc(&c.detail)
                    )),
                    Status::Skipped => out.push_str(&format!(
                        "><skipped message=\"{}\"/></testcase>\n",
                        esc(&c.detail)
                    )),
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Judges one catalogue case's verdict against its manifest: a valid case must verify, an invalid case
/// must fail, and fail by its rule.
pub fn judge(
    case: &catalogue::Manifest,
    verdict: Result<&sim_core::Verdict, &str>,
) -> (Status, String) {
    match (&case.result, verdict) {
        (Expect::Valid, Ok(v)) if v.is_valid() => (Status::Passed, "accepted".into()),
        (Expect::Valid, Ok(v)) => (
            Status::Failed,
            format!(
                "valid evidence rejected: {}",
                v.first_failure()
                    .map(|c| format!("{}: {}", c.id, c.detail))
                    .unwrap_or_default()
            ),
        ),
        (Expect::Valid, Err(e)) => (Status::Failed, format!("valid evidence unreadable: {e}")),
        (Expect::Invalid, Err(e)) => (Status::Passed, format!("rejected as unreadable: {e}")),
        (Expect::Invalid, Ok(v)) if v.is_valid() => (
            Status::Failed,
            format!("accepted evidence with defect: {}", case.defect),
        ),
        (Expect::Invalid, Ok(v)) => {
            let rule = case.rule.as_deref().unwrap_or("");
            if v.failed(rule) {
                (Status::Passed, format!("rejected by {rule}"))
            } else {
                let got: Vec<&str> = v
                    .checks
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| c.id.as_str())
                    .collect();
                (
                    Status::Failed,
                    format!(
                        "rejected for another reason ({}), not {rule}",
                        got.join(", ")
                    ),
                )
            }
        }
    }
}

/// Runs the catalogue (written to a scratch folder and read back as a verifier would).
pub fn run_catalogue(
    cases: &[Case],
    scratch: &Path,
    report: &mut RunReport,
    progress: &dyn Fn(usize, usize),
) -> std::io::Result<()> {
    catalogue::export(cases, scratch)?;
    for (i, c) in cases.iter().enumerate() {
        progress(i + 1, cases.len());
        let dir = scratch
            .join(c.manifest.platform.as_str())
            .join(c.dir_name());
        let (status, detail) = match evidence_dir::verify_dir(&dir, None) {
            Ok(v) => judge(&c.manifest, Ok(&v)),
            Err(e) => judge(&c.manifest, Err(&e.to_string())),
        };
        let rule = match &c.manifest.rule {
            Some(r) => r.clone(),
            None => format!(
                "{}-VALID-ACCEPTED",
                c.manifest.platform.as_str().to_uppercase()
            ),
        };
        report.checks.push(CheckResult {
            platform: c.manifest.platform,
            source: "catalogue".into(),
            case: c.manifest.id.clone(),
            rule,
            status,
            detail,
        });
    }
    Ok(())
}

/// Replays a folder of captures: every sub-folder (or the folder itself) is one piece of evidence from
/// a real machine; each of its verifier checks is a check of the run.
pub fn run_replay(
    dir: &Path,
    now: Option<i64>,
    platform: Option<Platform>,
    report: &mut RunReport,
) -> std::io::Result<()> {
    let mut folders = Vec::new();
    collect_evidence_folders(dir, 0, &mut folders)?;
    folders.sort();
    for f in folders {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = match evidence_dir::detect(&f) {
            Ok(p) => p,
            Err(_) => continue,
        };
        if platform.is_some_and(|want| want != p) {
            continue;
        }
        match evidence_dir::verify_dir(&f, now) {
            Ok(v) => {
                if let Some(serde_json::Value::Array(skipped)) = v.claims.get("skipped") {
                    for r in skipped.iter().filter_map(|r| r.as_str()) {
                        report.checks.push(CheckResult {
                            platform: p,
                            source: "replay".into(),
                            case: name.clone(),
                            rule: r.to_string(),
                            status: Status::Skipped,
                            detail: "the folder lacks what this check needs".into(),
                        });
                    }
                }
                for c in &v.checks {
                    report.checks.push(CheckResult {
                        platform: p,
                        source: "replay".into(),
                        case: name.clone(),
                        rule: c.id.clone(),
                        status: if c.ok { Status::Passed } else { Status::Failed },
                        detail: c.detail.clone(),
                    });
                }
            }
            Err(e) => report.checks.push(CheckResult {
                platform: p,
                source: "replay".into(),
                case: name,
                rule: "READ".into(),
                status: Status::Failed,
                detail: e.to_string(),
            }),
        }
    }
    Ok(())
}

/// Evidence folders at or below `dir` (three levels at most): a folder that holds evidence is one
/// capture; otherwise its sub-folders are searched.
fn collect_evidence_folders(
    dir: &Path,
    depth: usize,
    out: &mut Vec<std::path::PathBuf>,
) -> std::io::Result<()> {
    if evidence_dir::detect(dir).is_ok() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= 3 {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.path().is_dir() {
            collect_evidence_folders(&e.path(), depth + 1, out)?;
        }
    }
    Ok(())
}

fn push_attack(report: &mut RunReport, platform: Platform, a: &sim_core::scenario::AttackReport) {
    let rule = a
        .rule
        .clone()
        .unwrap_or_else(|| format!("{}-ATTACK-OUTCOME", platform.as_str().to_uppercase()));
    let (status, detail) = if a.matches_hardware() {
        (Status::Passed, format!("{:?}, as on hardware", a.outcome))
    } else {
        (
            Status::Failed,
            format!("{:?}, real hardware: {:?}", a.outcome, a.expected),
        )
    };
    report.checks.push(CheckResult {
        platform,
        source: "scenario".into(),
        case: a.scenario.clone(),
        rule,
        status,
        detail,
    });
}

/// Runs the attack scenarios (memory models, CPU-GPU channel) and replays the committed memory traces
/// (`vectors/<platform>/traces/*.jsonl`, when the folder is found) of the platforms selected.
pub fn run_scenarios(platform: Option<Platform>, report: &mut RunReport) {
    let want = |p: Platform| platform.is_none() || platform == Some(p);
    if want(Platform::Snp) {
        let rules = sim_core::rules::RuleSet::all();
        for s in sim_snp::memory::attack::SCENARIOS {
            push_attack(report, Platform::Snp, &s.run(&rules));
        }
        replay_traces(Platform::Snp, report, |text| {
            let events =
                sim_snp::memory::trace::parse_json_lines(text).map_err(|e| e.to_string())?;
            let r = sim_snp::memory::trace::replay(&events, &sim_core::rules::RuleSet::all())
                .map_err(|e| e.to_string())?;
            Ok((r.events, r.mismatches.len()))
        });
    }
    if want(Platform::Tdx) {
        let rules = sim_core::rules::RuleSet::all();
        for s in sim_tdx::memory::attack::SCENARIOS {
            push_attack(
                report,
                Platform::Tdx,
                &sim_tdx::memory::attack::run(s, &rules),
            );
        }
        replay_traces(Platform::Tdx, report, |text| {
            let r = sim_tdx::memory::trace::replay(text).map_err(|e| e.to_string())?;
            Ok((r.replayed, r.mismatches.len()))
        });
    }
    if want(Platform::Gpu) {
        for (name, _) in sim_gpu::attack::SCENARIOS {
            if let Some(a) = sim_gpu::attack::run(name, 0) {
                push_attack(report, Platform::Gpu, &a);
            }
        }
    }
}

/// The committed traces folder of a platform, found from the working directory or the source tree.
fn traces_dir(platform: Platform) -> Option<std::path::PathBuf> {
    let rel = format!("vectors/{}/traces", platform.as_str());
    [
        std::path::PathBuf::from(&rel),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(&rel),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

fn replay_traces(
    platform: Platform,
    report: &mut RunReport,
    replay: impl Fn(&str) -> Result<(usize, usize), String>,
) {
    let Some(dir) = traces_dir(platform) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rule = format!("{}-TRACE-REPLAY", platform.as_str().to_uppercase());
        let (status, detail) = match std::fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|t| replay(&t))
        {
            Ok((n, 0)) => (
                Status::Passed,
                format!("{n} events give the recorded results"),
            ),
            Ok((n, m)) => (
                Status::Failed,
                format!("{m} of {n} events differ from the recording"),
            ),
            Err(e) => (Status::Failed, e),
        };
        report.checks.push(CheckResult {
            platform,
            source: "trace".into(),
            case: name,
            rule,
            status,
            detail,
        });
    }
}
