//! The conformance harness (`cargo test -p conformance --test suite`): one libtest-mimic trial per
//! vector × check, named by platform, spec section and case, so `cargo test ... -- snp/7.3` filters.
//!
//! - `<platform>/<section>/<case>/verdict`: a catalogue vector (vectors/catalogue) gets its expected
//!   verdict, and an invalid one fails by its own rule;
//! - `<platform>/replay/<capture>/<RULE>`: every check of a real capture (vectors/replay) holds;
//! - `catalogue/regenerated-byte-identical`: `cvmsim vectors generate` changes no byte;
//! - `<platform>/scenario/<name>` and `<platform>/trace/<file>`: attack scenarios give the hardware's
//!   outcome and committed traces replay to their recorded results.
//!
//! `vectors/known-failures.toml` lists expected failures with reasons; one that passes fails the run.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conformance::catalogue::{self, Manifest};
use conformance::suite::{self, RunReport, Status};
use conformance::{evidence_dir, known};
use libtest_mimic::{Arguments, Failed, Trial};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");

fn trial(
    list: &std::sync::Arc<Vec<known::KnownFailure>>,
    name: String,
    f: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Trial {
    let list = list.clone();
    let n = name.clone();
    Trial::test(name, move || {
        known::judge(&list, &n, f()).map_err(Failed::from)
    })
}

fn case_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for platform in ["snp", "tdx", "gpu"] {
        let Ok(entries) = std::fs::read_dir(Path::new(VECTORS).join("catalogue").join(platform))
        else {
            continue;
        };
        out.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("manifest.json").is_file()),
        );
    }
    out.sort();
    out
}

fn main() {
    let args = Arguments::from_args();
    let list = std::fs::read_to_string(Path::new(VECTORS).join("known-failures.toml"))
        .expect("vectors/known-failures.toml");
    let list = std::sync::Arc::new(known::parse(&list).expect("known-failures.toml parses"));
    let mut trials = Vec::new();

    // Catalogue vectors.
    for dir in case_dirs() {
        let m: Manifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        trials.push(trial(&list, format!("{}/verdict", m.id), move || {
            let (status, detail) = match evidence_dir::verify_dir(&dir, None) {
                Ok(v) => suite::judge(&m, Ok(&v)),
                Err(e) => suite::judge(&m, Err(&e.to_string())),
            };
            if status == Status::Passed {
                Ok(())
            } else {
                Err(detail)
            }
        }));
    }

    // Real captures: one trial per check.
    let mut replay = RunReport::default();
    suite::run_replay(&Path::new(VECTORS).join("replay"), None, None, &mut replay).unwrap();
    for c in replay.checks {
        let name = format!(
            "{}/replay/{}/{}",
            c.platform,
            c.case.rsplit('/').next().unwrap_or(&c.case),
            c.rule
        );
        if c.status == Status::Skipped {
            trials.push(Trial::test(name, || Ok(())).with_ignored_flag(true));
            continue;
        }
        trials.push(trial(&list, name, move || {
            if c.status == Status::Passed {
                Ok(())
            } else {
                Err(c.detail)
            }
        }));
    }

    // The committed catalogue is what the generator makes today.
    trials.push(trial(
        &list,
        "catalogue/regenerated-byte-identical".into(),
        || {
            let cases = catalogue::cases(None)?;
            let diff = catalogue::diff(&cases, &Path::new(VECTORS).join("catalogue"));
            if diff.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} differences (run `cvmsim vectors generate`): {}",
                    diff.len(),
                    diff.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
                ))
            }
        },
    ));

    // Scenarios and traces.
    let mut sc = RunReport::default();
    suite::run_scenarios(None, &mut sc);
    for c in sc.checks {
        let name = format!("{}/{}/{}", c.platform, c.source, c.case);
        trials.push(trial(&list, name, move || {
            if c.status == Status::Passed {
                Ok(())
            } else {
                Err(format!("{}: {}", c.rule, c.detail))
            }
        }));
    }

    libtest_mimic::run(&args, trials).exit();
}
