//! Every fuzz seed and every saved crash runs through the fuzz harnesses as an ordinary test: the seeds
//! are the vectors themselves (captures and catalogue), plus `fuzz/corpus/<target>/` when a fuzzing run
//! has grown it, plus `vectors/regressions/<target>/` (crashes found by fuzzing, kept forever).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conformance::fuzzing;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Seeds of a target: files under `vectors/` whose names match.
fn seeds(target: &str) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(&Path::new(ROOT).join("vectors"), &mut all);
    let keep = |p: &Path| {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let path = p.to_string_lossy();
        match target {
            "snp_report" => {
                name.ends_with(".bin")
                    && (path.contains("/snp/") || path.contains("catalogue/snp"))
                    && !name.starts_with("certs")
                    && !name.starts_with("ovmf")
            }
            "snp_cert_table" => name == "certs.bin",
            "snp_ovmf" => name.starts_with("ovmf_"),
            "tdx_quote" => {
                name == "quote.bin"
                    || (path.contains("/tdx/")
                        && (name.ends_with(".dat") || name.contains("quote")))
                        && !name.ends_with(".json")
            }
            "tdx_tdreport" => name == "tdreport.bin" || name.contains("hcl-report"),
            "tdx_collateral" => name.ends_with("collateral.json") || name.starts_with("sample_"),
            "gpu_spdm" => name == "report.bin" && path.contains("gpu"),
            "gpu_rim" => name.ends_with(".xml") || name.ends_with(".swidtag"),
            "x509" => name.ends_with(".der") || name.ends_with(".pem") && !path.contains("keys/"),
            _ => false,
        }
    };
    let mut out: Vec<PathBuf> = all.into_iter().filter(|p| keep(p)).collect();
    for extra in ["fuzz/corpus", "vectors/regressions"] {
        walk(&Path::new(ROOT).join(extra).join(target), &mut out);
    }
    out.sort();
    out
}

#[test]
fn every_seed_and_saved_crash_runs_clean() {
    for (target, harness) in fuzzing::TARGETS {
        let files = seeds(target);
        let memory = target.ends_with("_memory");
        assert!(memory || !files.is_empty(), "{target}: no seeds");
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let r = std::panic::catch_unwind(|| harness(&data));
            assert!(r.is_ok(), "{target} panics on {}", f.display());
        }
        if memory {
            // Byte streams that steer the operation generators: deterministic pseudo-random inputs.
            for seed in 0..24u64 {
                let data: [u8; 512] = sim_core::rng::bytes(&format!("fuzz-seed/{target}"), seed);
                harness(&data);
            }
        }
    }
}

#[test]
fn truncations_and_bit_flips_of_the_seeds_never_panic() {
    for (target, harness) in fuzzing::TARGETS
        .iter()
        .filter(|(t, _)| !t.ends_with("_memory"))
    {
        for f in seeds(target).iter().take(12) {
            let data = std::fs::read(f).unwrap();
            for cut in [
                0,
                1,
                data.len() / 3,
                data.len() / 2,
                data.len().saturating_sub(1),
            ] {
                harness(&data[..cut]);
            }
            for i in (0..data.len()).step_by(data.len() / 16 + 1) {
                let mut d = data.clone();
                d[i] ^= 0xA5;
                harness(&d);
            }
        }
    }
}
