//! `cvmsim tdx ...`, `cvmsim gpu ...` and `cvmsim verify DIR` end to end: files, exit codes (0 valid,
//! 1 invalid, 2 unreadable) and determinism.

#![allow(clippy::unwrap_used)]

mod common;

use common::{cvmsim, s, tmp};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");

#[test]
fn tdx_quote_verify_show_and_exit_codes() {
    let dir = tmp("tg-tdx");
    let o = cvmsim(&[
        "tdx",
        "quote",
        "--out",
        s(&dir),
        "--seed",
        "4",
        "--quote-version",
        "5",
        "--tcb-status",
        "OutOfDate",
        "--report-data",
        "abcd",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "quote.bin",
        "collateral.json",
        "root_ca.der",
        "tdreport.bin",
        "quote.json",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let (q, c, r) = (
        dir.join("quote.bin"),
        dir.join("collateral.json"),
        dir.join("root_ca.der"),
    );
    let o = cvmsim(&[
        "tdx",
        "verify",
        "--quote",
        s(&q),
        "--collateral",
        s(&c),
        "--root",
        s(&r),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            j["platform"].as_str(),
            j["verdict"].as_str(),
            j["claims"]["tcb_status"].as_str()
        ),
        (Some("tdx"), Some("valid"), Some("OutOfDate"))
    );
    // Policy: OutOfDate not allowed -> 1.
    let o = cvmsim(&[
        "tdx",
        "verify",
        "--quote",
        s(&q),
        "--collateral",
        s(&c),
        "--root",
        s(&r),
        "--allowed-status",
        "UpToDate",
    ]);
    assert_eq!(o.status.code(), Some(1));
    // A flipped report-data byte -> 1; a truncated quote -> 2 naming the file.
    let mut bad = std::fs::read(&q).unwrap();
    bad[48 + 520 + 16] ^= 1;
    let bq = dir.join("bad.bin");
    std::fs::write(&bq, &bad).unwrap();
    assert_eq!(
        cvmsim(&[
            "tdx",
            "verify",
            "--quote",
            s(&bq),
            "--collateral",
            s(&c),
            "--root",
            s(&r)
        ])
        .status
        .code(),
        Some(1)
    );
    std::fs::write(&bq, &bad[..100]).unwrap();
    let o = cvmsim(&["tdx", "verify", "--quote", s(&bq), "--root", s(&r)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.bin"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // verify DIR tells TDX by quote.bin and uses the folder's root and collateral.
    assert_eq!(cvmsim(&["verify", s(&dir)]).status.code(), Some(0));
    // show.
    let o = cvmsim(&["tdx", "show", s(&q), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("abcd"));
    // Same seed, same bytes.
    let dir2 = tmp("tg-tdx2");
    cvmsim(&[
        "tdx",
        "quote",
        "--out",
        s(&dir2),
        "--seed",
        "4",
        "--quote-version",
        "5",
        "--tcb-status",
        "OutOfDate",
        "--report-data",
        "abcd",
    ]);
    for f in ["quote.bin", "collateral.json", "root_ca.der"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(dir2.join(f)).unwrap(),
            "{f}"
        );
    }
    // A real quote verifies to Intel's bundled root without collateral.
    let real = format!("{VECTORS}/tdx/captures/tdx_quote_4.dat");
    assert_eq!(
        cvmsim(&[
            "tdx",
            "verify",
            "--quote",
            &real,
            "--now",
            "2026-06-01T00:00:00Z"
        ])
        .status
        .code(),
        Some(0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

#[test]
fn gpu_evidence_verify_and_exit_codes() {
    let dir = tmp("tg-gpu");
    let nonce = "11".repeat(32);
    let o = cvmsim(&[
        "gpu",
        "evidence",
        "--out",
        s(&dir),
        "--nonce",
        &nonce,
        "--seed",
        "2",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "report.hex",
        "report.bin",
        "certchain.pem",
        "root_ca.pem",
        "rim_root_ca.pem",
        "evidence.json",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let (rep, chain, root) = (
        dir.join("report.hex"),
        dir.join("certchain.pem"),
        dir.join("root_ca.pem"),
    );
    let (rims, rim_root) = (dir.join("rims"), dir.join("rim_root_ca.pem"));
    let args = [
        "gpu",
        "verify",
        "--report",
        s(&rep),
        "--certchain",
        s(&chain),
        "--root",
        s(&root),
        "--rims",
        s(&rims),
        "--rim-root",
        s(&rim_root),
    ];
    let o = cvmsim(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let mut with_nonce = args.to_vec();
    with_nonce.extend(["--nonce", "22"]);
    assert_eq!(
        cvmsim(&with_nonce).status.code(),
        Some(1),
        "a nonce the report does not answer"
    );
    assert_eq!(cvmsim(&["verify", s(&dir)]).status.code(), Some(0));
    // A tampered variant -> 1.
    let bad = tmp("tg-gpu-bad");
    assert_eq!(
        cvmsim(&[
            "gpu",
            "evidence",
            "--out",
            s(&bad),
            "--nonce",
            &nonce,
            "--tamper",
            "fwid"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(cvmsim(&["verify", s(&bad)]).status.code(), Some(1));
    // Garbage -> 2.
    let g = dir.join("garbage.hex");
    std::fs::write(&g, "zz").unwrap();
    assert_eq!(
        cvmsim(&[
            "gpu",
            "verify",
            "--report",
            s(&g),
            "--certchain",
            s(&chain),
            "--root",
            s(&root)
        ])
        .status
        .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&bad).unwrap();
}

#[test]
fn verify_dir_and_conformance_run_exit_codes() {
    // A catalogue case of each platform, valid and invalid.
    let cat = format!("{VECTORS}/catalogue");
    for (case, code) in [
        ("snp/snp__7.3-report__valid-genoa-v5-vcek", 0),
        ("snp/snp__7.3-report__bad-signature-r", 1),
        ("tdx/tdx__tcb-status__v4-uptodate", 0),
        ("tdx/tdx__quote__bad-signature", 1),
        ("gpu/gpu__spdm-measurements__valid-h100-550", 0),
        ("gpu/gpu__defect__signature", 1),
    ] {
        let o = cvmsim(&["verify", &format!("{cat}/{case}"), "--json"]);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{case}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["verdict"], if code == 0 { "valid" } else { "invalid" });
    }
    assert_eq!(
        cvmsim(&["verify", "/nonexistent-folder"]).status.code(),
        Some(2)
    );
    // The suite on one platform, JSON and JUnit; replay of the real captures.
    let o = cvmsim(&[
        "conformance",
        "run",
        "--platform",
        "gpu",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["checks"].as_array().unwrap().len() >= 26);
    let o = cvmsim(&[
        "conformance",
        "run",
        "--replay",
        &format!("{VECTORS}/replay"),
        "--format",
        "junit",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("<?xml"));
    // score: a verifier that accepts everything disagrees exactly on the invalid cases.
    let o = cvmsim(&[
        "conformance",
        "score",
        "--platform",
        "gpu",
        "--verifier",
        "true {}",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let invalid = std::fs::read_dir(format!("{cat}/gpu"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("manifest.json"))
                .unwrap()
                .contains("\"result\": \"invalid\"")
        })
        .count();
    assert_eq!(j["disagreements"].as_array().unwrap().len(), invalid);
    // vectors generate --check agrees with the committed catalogue.
    let o = cvmsim(&["vectors", "generate", "--check", "--out", &cat]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
