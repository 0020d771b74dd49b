//! The verifier-conformance catalogue: good and deliberately broken evidence, each case a folder in the
//! formats real verifiers read, with a `manifest.json` stating the expected verdict, the defect and the
//! rule it breaks (Wycheproof-style).
//!
//! Case folder:
//!
//! | file | what |
//! |---|---|
//! | `manifest.json` | [`Manifest`]: `id`, `platform`, `result` (`valid`/`invalid`), `rule`, `defect`, `spec`, `provenance` |
//! | `policy.json` | only for appraisal cases: the policy a verifier must apply (see [`crate::evidence_dir`]) |
//! | evidence files | as `cvmsim <platform> report\|quote\|evidence` writes them |
//!
//! Every case is generated from a fixed seed, so `cvmsim vectors generate` writes the same bytes on every
//! machine; CI regenerates the catalogue and fails when a byte changes.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sim_core::Platform;

pub mod gpu;
pub mod snp;
pub mod tdx;

/// The expected verdict of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// A correct verifier accepts it.
    Valid,
    /// A correct verifier rejects it.
    Invalid,
}

/// `manifest.json` of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Case ID, `<platform>/<spec section>/<case>`.
    pub id: String,
    /// Platform.
    pub platform: Platform,
    /// Expected verdict.
    pub result: Expect,
    /// The rule the defect breaks (invalid cases).
    pub rule: Option<String>,
    /// What is wrong (or what is unusual but valid).
    pub defect: String,
    /// Spec reference.
    pub spec: String,
    /// How the case was made.
    pub provenance: String,
    /// The time at which the case has its expected verdict (`verify DIR` uses it; external verifiers
    /// run at their own clock, which gives the same verdict until the simulated certificates expire
    /// in 2032).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

/// The time every catalogue case is judged at.
pub const CATALOGUE_NOW: &str = "2026-01-01T00:00:00Z";

/// One case: its manifest and its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The manifest.
    pub manifest: Manifest,
    /// Files of the folder (without `manifest.json`), sorted by name.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Case {
    /// The folder name of the case (its ID with `/` replaced by `__`).
    pub fn dir_name(&self) -> String {
        self.manifest.id.replace('/', "__")
    }

    /// All files including `manifest.json`.
    pub fn all_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut f = self.files.clone();
        let mut m = serde_json::to_vec_pretty(&self.manifest).unwrap_or_default();
        m.push(b'\n');
        f.push(("manifest.json".into(), m));
        f.sort_by(|a, b| a.0.cmp(&b.0));
        f
    }
}

/// The words of a case: its ID within the platform, expected verdict, broken rule, defect and spec.
pub(crate) struct CaseText<'a> {
    pub(crate) id: &'a str,
    pub(crate) expect: Expect,
    pub(crate) rule: Option<&'a str>,
    pub(crate) defect: &'a str,
    pub(crate) spec: &'a str,
}

/// Builds a case: the manifest (ID prefixed by the platform, judged at [`CATALOGUE_NOW`]) and the
/// files, with `policy.json` when the case has an appraisal policy, sorted by name.
pub(crate) fn make_case(
    platform: Platform,
    text: CaseText<'_>,
    provenance: String,
    mut files: Vec<(String, Vec<u8>)>,
    policy: Option<&serde_json::Value>,
) -> Case {
    if let Some(p) = policy {
        let mut j = serde_json::to_vec_pretty(p).unwrap_or_default();
        j.push(b'\n');
        files.push(("policy.json".into(), j));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Case {
        manifest: Manifest {
            id: format!("{}/{}", platform.as_str(), text.id),
            platform,
            result: text.expect,
            rule: text.rule.map(str::to_string),
            defect: text.defect.to_string(),
            spec: text.spec.to_string(),
            provenance,
            now: Some(CATALOGUE_NOW.to_string()),
        },
        files,
    }
}

/// Every case of the catalogue, for `platform` or all platforms.
pub fn cases(platform: Option<Platform>) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    if platform.is_none() || platform == Some(Platform::Snp) {
        out.extend(snp::cases()?);
    }
    if platform.is_none() || platform == Some(Platform::Tdx) {
        out.extend(tdx::cases()?);
    }
    if platform.is_none() || platform == Some(Platform::Gpu) {
        out.extend(gpu::cases()?);
    }
    Ok(out)
}

/// Writes every case under `dir/<platform>/<case>/` plus `dir/index.json`.
pub fn export(cases: &[Case], dir: &Path) -> std::io::Result<()> {
    for c in cases {
        let d = dir.join(c.manifest.platform.as_str()).join(c.dir_name());
        sim_core::files::write_set(&d, &c.all_files())?;
    }
    let index: Vec<&Manifest> = cases.iter().map(|c| &c.manifest).collect();
    let mut json = serde_json::to_vec_pretty(&index).map_err(std::io::Error::other)?;
    json.push(b'\n');
    sim_core::files::write_atomic(&dir.join("index.json"), &json)
}

fn walk_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Compares the catalogue with a folder previously written by [`export`]: the paths that differ, are
/// missing, or are extra.
pub fn diff(cases: &[Case], dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected = std::collections::BTreeSet::new();
    for c in cases {
        let d = dir.join(c.manifest.platform.as_str()).join(c.dir_name());
        for (name, bytes) in c.all_files() {
            let p = d.join(&name);
            expected.insert(p.clone());
            match std::fs::read(&p) {
                Ok(b) if b == bytes => {}
                Ok(_) => problems.push(format!("{} differs", p.display())),
                Err(_) => problems.push(format!("{} missing", p.display())),
            }
        }
    }
    for platform in ["snp", "tdx", "gpu"] {
        let mut files = Vec::new();
        walk_files(&dir.join(platform), &mut files);
        for f in files {
            if !expected.contains(&f) {
                problems.push(format!("{} is not generated", f.display()));
            }
        }
    }
    problems
}
