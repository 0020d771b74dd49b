//! `--replay` passes on every real capture, and a flipped byte in any capture's evidence makes it fail.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conformance::evidence_dir;

const REPLAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/replay");

fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in ["snp", "tdx", "gpu"] {
        for e in std::fs::read_dir(Path::new(REPLAY).join(p))
            .unwrap()
            .flatten()
        {
            out.push(e.path());
        }
    }
    out.sort();
    out
}

#[test]
fn every_capture_passes_and_every_flipped_capture_fails() {
    let caps = captures();
    assert!(caps.len() >= 20, "{} captures", caps.len());
    for dir in caps {
        let v = evidence_dir::verify_dir(&dir, None).unwrap();
        assert!(v.is_valid(), "{}: {}", dir.display(), v.render_human());
        let skipped = v
            .claims
            .get("skipped")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .any(|r| r.as_str().is_some_and(|r| r.ends_with("SIGNATURE")))
            })
            .unwrap_or(false);
        if skipped && v.platform == sim_core::Platform::Snp {
            // The one report published without its VCEK: only its structure can be checked, so a flipped
            // byte outside a checked field cannot be seen. Every other capture must catch every flip.
            assert!(dir.ends_with("genoa_v2_routex_novcek"), "{}", dir.display());
            continue;
        }
        // Copy the capture with its evidence file flipped at a few offsets inside the signed range.
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let files = m["files"].as_object().unwrap();
        let role = ["report", "quote", "report_hex", "evidence"]
            .into_iter()
            .find(|r| files.contains_key(*r))
            .unwrap();
        let evidence = dir.join(files[role].as_str().unwrap());
        let bytes = std::fs::read(&evidence).unwrap();
        let tmp = std::env::temp_dir().join(format!("cvmsim-replay-tamper-{}", std::process::id()));
        for frac in [0.05f64, 0.3, 0.6] {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).unwrap();
            let mut bad = bytes.clone();
            let (at, name) = match role {
                // Hex text: change one hex digit.
                "report_hex" => {
                    let at = (bad.len() as f64 * frac) as usize;
                    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
                    (at, "report.hex")
                }
                // JSON evidence: change one base64 character of the evidence field.
                "evidence" => {
                    let text = String::from_utf8(bad.clone()).unwrap();
                    let start = text.find("\"evidence\"").unwrap() + 20;
                    let at = start + 40 + (frac * 100.0) as usize;
                    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
                    (at, "evidence.json")
                }
                "quote" => {
                    let at = 48 + (584.0 * frac) as usize;
                    bad[at] ^= 0x01;
                    (at, "quote.bin")
                }
                _ => {
                    let at = (0x2A0 as f64 * frac) as usize;
                    bad[at] ^= 0x01;
                    (at, "report.bin")
                }
            };
            std::fs::write(tmp.join(name), &bad).unwrap();
            let mut mm = m.clone();
            let mut fm = serde_json::Map::new();
            for (k, v) in files {
                let target = if k == role {
                    name.to_string()
                } else {
                    dir.join(v.as_str().unwrap()).display().to_string()
                };
                fm.insert(k.clone(), serde_json::Value::String(target));
            }
            mm["files"] = serde_json::Value::Object(fm);
            std::fs::write(tmp.join("manifest.json"), serde_json::to_vec(&mm).unwrap()).unwrap();
            if dir.join("policy.json").exists() {
                std::fs::copy(dir.join("policy.json"), tmp.join("policy.json")).unwrap();
            }
            let ok = evidence_dir::verify_dir(&tmp, None)
                .map(|v| v.is_valid())
                .unwrap_or(false);
            assert!(
                !ok,
                "{}: a flip at byte {at} of {} still verifies",
                dir.display(),
                name
            );
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
