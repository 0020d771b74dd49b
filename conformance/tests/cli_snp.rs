//! `cvmsim snp ...` end to end: files, exit codes (0 valid, 1 invalid, 2 unreadable) and the real
//! captures through `cvmsim snp verify` under AMD's real roots.

#![allow(clippy::unwrap_used)]

mod common;

use common::{cvmsim, s, tmp};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/snp/captures");
const NOW: &str = "2026-11-01T00:00:00Z";

const REAL: &[(&str, &str, &str)] = &[
    (
        "milan/milan_v2_gosevguest_report.bin",
        "milan/milan_v2_gosevguest_vcek.der",
        "milan",
    ),
    (
        "milan/milan_v3_msft_report.bin",
        "milan/milan_v3_msft_vcek.pem",
        "milan",
    ),
    (
        "milan/milan_v3_routex_report.bin",
        "milan/milan_v3_routex_vcek_ask_ark.pem",
        "milan",
    ),
    (
        "genoa/genoa_v3_msft_report.bin",
        "genoa/genoa_v3_msft_vcek.pem",
        "genoa",
    ),
    (
        "genoa/genoa_v3_routex_report.bin",
        "genoa/genoa_v3_routex_vcek_ask_ark.pem",
        "genoa",
    ),
    (
        "genoa/genoa_v5_routex_report.bin",
        "genoa/genoa_v5_routex_vcek_ask_ark.pem",
        "genoa",
    ),
    (
        "turin/turin_v5_msft_report.bin",
        "turin/turin_v5_msft_vcek.pem",
        "turin",
    ),
    (
        "turin/turin_v5_routex_report.bin",
        "turin/turin_v5_routex_vcek_ask_ark.pem",
        "turin",
    ),
];

#[test]
fn every_real_report_verifies_and_broken_ones_do_not() {
    let dir = tmp("snp-real");
    std::fs::create_dir_all(&dir).unwrap();
    for (report, vcek, product) in REAL {
        let r = format!("{CAPTURES}/{report}");
        let v = format!("{CAPTURES}/{vcek}");
        let chain = format!("{CAPTURES}/roots/{product}_ask_ark.pem");
        let o = cvmsim(&[
            "snp", "verify", "--report", &r, "--vcek", &v, "--chain", &chain, "--now", NOW,
            "--json",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{report}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["verdict"], "valid");
        assert_eq!(j["platform"], "snp");
        let bytes = std::fs::read(&r).unwrap();
        // A flipped bit in the signed range and in the signature: exit 1.
        for off in [0x000usize, 0x050, 0x1A0, 0x29F, 0x2A0, 0x2E8, 0x400] {
            let mut bad = bytes.clone();
            bad[off] ^= 0x80;
            let p = dir.join("bad.bin");
            std::fs::write(&p, &bad).unwrap();
            let o = cvmsim(&[
                "snp",
                "verify",
                "--report",
                s(&p),
                "--vcek",
                &v,
                "--chain",
                &chain,
                "--now",
                NOW,
            ]);
            assert_eq!(o.status.code(), Some(1), "{report} flip at 0x{off:x}");
        }
        // Truncated: exit 2, naming the file, the field and the offset.
        let p = dir.join("short.bin");
        std::fs::write(&p, &bytes[..1000]).unwrap();
        let o = cvmsim(&[
            "snp",
            "verify",
            "--report",
            s(&p),
            "--vcek",
            &v,
            "--chain",
            &chain,
            "--now",
            NOW,
        ]);
        assert_eq!(o.status.code(), Some(2), "{report} truncated");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("short.bin")
                && err.contains("ATTESTATION_REPORT")
                && err.contains("offset 0x0"),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_then_verify_with_policy_flags() {
    let dir = tmp("snp-report");
    let o = cvmsim(&[
        "snp",
        "report",
        "--out",
        s(&dir),
        "--product",
        "turin",
        "--report-data",
        "C0FFEE",
        "--host-data",
        "01",
        "--vmpl",
        "1",
        "--seed",
        "3",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "report.bin",
        "vcek.der",
        "ask.pem",
        "ark.pem",
        "cert_chain.pem",
        "certs.bin",
        "report.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::metadata(dir.join("report.bin")).unwrap().len(),
        1184
    );
    let rep = dir.join("report.bin");
    let vcek = dir.join("vcek.der");
    let chain = dir.join("cert_chain.pem");
    let base = [
        "snp",
        "verify",
        "--report",
        s(&rep),
        "--vcek",
        s(&vcek),
        "--chain",
        s(&chain),
    ];
    assert_eq!(cvmsim(&base).status.code(), Some(0));
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        cvmsim(&a).status.code()
    };
    assert_eq!(
        with(&[
            "--report-data",
            "c0ffee",
            "--host-data",
            "01",
            "--vmpl",
            "1",
            "--deny-debug"
        ]),
        Some(0)
    );
    assert_eq!(with(&["--report-data", "c0ffef"]), Some(1));
    assert_eq!(with(&["--vmpl", "0"]), Some(1));
    assert_eq!(
        with(&["--min-tcb", "fmc=1,bl=1,tee=1,snp=5,ucode=81"]),
        Some(1)
    );
    assert_eq!(
        with(&["--min-tcb", "fmc=1,bl=1,tee=1,snp=4,ucode=81"]),
        Some(0)
    );
    assert_eq!(with(&["--require-platform-info", "20"]), Some(0));
    assert_eq!(with(&["--require-platform-info", "10"]), Some(1));
    assert_eq!(with(&["--report-data", "zz"]), Some(2));
    // --ask/--ark instead of --chain; the VCEK-first bundle form of --chain.
    let ask = dir.join("ask.pem");
    let ark = dir.join("ark.pem");
    assert_eq!(
        cvmsim(&[
            "snp",
            "verify",
            "--report",
            s(&rep),
            "--vcek",
            s(&vcek),
            "--ask",
            s(&ask),
            "--ark",
            s(&ark)
        ])
        .status
        .code(),
        Some(0)
    );
    // The simulated chain does not verify under AMD's real Turin roots.
    let real = format!("{CAPTURES}/roots/turin_ask_ark.pem");
    assert_eq!(
        cvmsim(&[
            "snp",
            "verify",
            "--report",
            s(&rep),
            "--vcek",
            s(&vcek),
            "--chain",
            &real
        ])
        .status
        .code(),
        Some(1)
    );
    // Same seed, same bytes.
    let dir2 = tmp("snp-report2");
    cvmsim(&[
        "snp",
        "report",
        "--out",
        s(&dir2),
        "--product",
        "turin",
        "--report-data",
        "C0FFEE",
        "--host-data",
        "01",
        "--vmpl",
        "1",
        "--seed",
        "3",
    ]);
    for f in ["report.bin", "vcek.der", "certs.bin"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(dir2.join(f)).unwrap(),
            "{f}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

#[test]
fn show_prints_every_field() {
    let r = format!("{CAPTURES}/genoa/genoa_v5_routex_report.bin");
    let o = cvmsim(&["snp", "show", &r, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["version"], 5);
    assert_eq!(j["launch_mit_vector"], "0xb");
    assert_eq!(j["reported_tcb"]["raw"], "0a00000000001b58");
    let o = cvmsim(&["snp", "show", &r]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("measurement"));
}

#[test]
fn measure_prints_sev_snp_measure_digest_and_report_carries_it() {
    let ovmf = format!("{CAPTURES}/measurement/ovmf_AmdSev_suffix.bin");
    let dir = tmp("snp-measure");
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let args = [
        "--ovmf",
        &ovmf,
        "--vcpus",
        "1",
        "--vcpu-type",
        "EPYC-v4",
        "--kernel",
        s(&empty),
        "--initrd",
        s(&empty),
        "--append",
        "console=ttyS0 loglevel=7",
        "--guest-features",
        "0x21",
    ];
    let mut m = vec!["snp", "measure"];
    m.extend_from_slice(&args);
    let o = cvmsim(&m);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let digest = String::from_utf8(o.stdout).unwrap();
    // Row 4 of expected_launch_digests.tsv (sev-snp-measure 0.0.13).
    assert_eq!(digest.trim(), "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977");
    let out = dir.join("ev");
    let mut r = vec!["snp", "report", "--out", s(&out)];
    r.extend_from_slice(&args);
    assert_eq!(cvmsim(&r).status.code(), Some(0));
    let rep = std::fs::read(out.join("report.bin")).unwrap();
    assert_eq!(hex::encode(&rep[0x90..0xC0]), digest.trim());
    let rp = out.join("report.bin");
    let vc = out.join("vcek.der");
    let ch = out.join("cert_chain.pem");
    assert_eq!(
        cvmsim(&[
            "snp",
            "verify",
            "--report",
            s(&rp),
            "--vcek",
            s(&vc),
            "--chain",
            s(&ch),
            "--measurement",
            digest.trim()
        ])
        .status
        .code(),
        Some(0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2_and_leave_nothing_behind() {
    let dir = tmp("snp-usage");
    std::fs::create_dir_all(&dir).unwrap();
    // --out names an existing file: nothing can be written.
    let f = dir.join("file");
    std::fs::write(&f, b"x").unwrap();
    let o = cvmsim(&["snp", "report", "--out", s(&f)]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&f).unwrap(), b"x");
    assert_eq!(
        cvmsim(&[
            "snp",
            "report",
            "--out",
            s(&dir.join("x")),
            "--product",
            "rome"
        ])
        .status
        .code(),
        Some(2)
    );
    assert!(!dir.join("x").exists());
    assert_eq!(cvmsim(&["snp", "verify"]).status.code(), Some(2));
    assert_eq!(
        cvmsim(&["snp", "show", "/nonexistent/report.bin"])
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
