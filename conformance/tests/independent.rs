//! Independent verifiers scored against the committed catalogue: the `sev` crate for SNP and dcap-qvl
//! for TDX. Their disagreements with the expected verdicts must be exactly the ones recorded, with
//! reasons, in `vectors/catalogue/INDEPENDENT-VERIFIERS.md`.

#![allow(clippy::unwrap_used, dead_code)]

#[path = "../examples/dcap_qvl_verifier.rs"]
mod dcap_qvl_verifier;
#[path = "../examples/sev_verifier.rs"]
mod sev_verifier;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use conformance::catalogue::{Expect, Manifest};

const CATALOGUE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/catalogue");

fn cases(platform: &str) -> Vec<(PathBuf, Manifest)> {
    let mut out: Vec<(PathBuf, Manifest)> = std::fs::read_dir(Path::new(CATALOGUE).join(platform))
        .unwrap()
        .flatten()
        .map(|e| {
            let m = serde_json::from_slice(&std::fs::read(e.path().join("manifest.json")).unwrap())
                .unwrap();
            (e.path(), m)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn recorded(platform: &str) -> BTreeSet<String> {
    let doc =
        std::fs::read_to_string(Path::new(CATALOGUE).join("INDEPENDENT-VERIFIERS.md")).unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|id| id.starts_with(&format!("{platform}/")))
        .map(str::to_string)
        .collect()
}

fn disagreements(platform: &str, verify: impl Fn(&Path) -> Result<(), String>) -> BTreeSet<String> {
    let all = cases(platform);
    assert!(all.len() >= 40, "{platform}: {} cases", all.len());
    all.into_iter()
        .filter(|(dir, m)| {
            let got = if verify(dir).is_ok() {
                Expect::Valid
            } else {
                Expect::Invalid
            };
            got != m.result
        })
        .map(|(_, m)| m.id)
        .collect()
}

#[test]
fn the_sev_crate_disagrees_exactly_where_recorded() {
    assert_eq!(
        disagreements("snp", sev_verifier::verify_dir),
        recorded("snp")
    );
}

#[test]
fn dcap_qvl_disagrees_exactly_where_recorded() {
    // 2026-01-01, the catalogue's pinned time.
    assert_eq!(
        disagreements("tdx", |d| dcap_qvl_verifier::verify_dir_at(
            d,
            1_767_225_600
        )),
        recorded("tdx")
    );
}
