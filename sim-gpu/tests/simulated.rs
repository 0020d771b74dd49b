//! Simulated evidence: verifies in this project's verifier, and (chain, signature) in the OpenSSL CLI;
//! every tampered variant fails the rule it breaks.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sim_gpu::device::{CcMode, DeviceConfig, FirmwareSet};
use sim_gpu::evidence::{issue, EvidenceSet, Tamper};
use sim_gpu::verify::{verify, Options, RimInputs};

fn firmware_sets() -> Vec<FirmwareSet> {
    let a = FirmwareSet::default();
    let b = FirmwareSet {
        driver_version: "580.95.05".into(),
        vbios_version: "96.00.74.00.1A".into(),
        ..FirmwareSet::default()
    };
    let c = FirmwareSet {
        driver_version: "590.12".into(),
        vbios_version: "96.00.A5.00.01".into(),
        project: "G520".into(),
        project_sku: "0200".into(),
        chip_sku: "885".into(),
        board_id: 0x437,
        ..FirmwareSet::default()
    };
    vec![a, b, c]
}

fn check(ev: &EvidenceSet, nonce: Option<[u8; 32]>) -> sim_core::Verdict {
    let root = sim_core::x509::pem_certs(&ev.root_pem).unwrap().remove(0);
    let rim_root = sim_core::x509::pem_certs(&ev.rim_root_pem)
        .unwrap()
        .remove(0);
    verify(
        &ev.report,
        &ev.chain_pem,
        &root,
        Some(RimInputs {
            driver: &ev.rims[0].1,
            vbios: &ev.rims[1].1,
            root_der: &rim_root,
        }),
        &Options {
            nonce,
            now: sim_core::time::parse_rfc3339("2026-11-29T00:00:00Z").unwrap(),
            allow_trailing_bytes: false,
        },
    )
}

#[test]
fn simulated_evidence_verifies_for_several_firmware_sets_and_seeds() {
    let nonce = [0x42u8; 32];
    for (i, fw) in firmware_sets().into_iter().enumerate() {
        for seed in [0u64, 1, 3] {
            let mut cfg = DeviceConfig::new(seed);
            cfg.firmware = fw.clone();
            cfg.ppcie = i == 2;
            let ev = issue(cfg, nonce, None).unwrap();
            assert_eq!(&ev.report[..4], &[0x11, 0xe0, 0x01, 0xff]);
            assert_eq!(ev.report[36], 0);
            assert_eq!(
                &ev.report[37..45],
                &[0x11, 0x60, 0, 0, 0x40, 0xc0, 0x0d, 0x00]
            );
            let v = check(&ev, Some(nonce));
            assert!(v.is_valid(), "{fw:?} seed {seed}: {:?}", v.first_failure());
            assert_eq!(v.claims["measres"], "success");
            assert_eq!(
                v.claims["x-nvidia-gpu-driver-version"],
                fw.driver_version.as_str()
            );
            assert_eq!(
                ev.rims[0].0,
                format!("NV_GPU_DRIVER_GH100_{}", fw.driver_version)
            );
        }
    }
}

#[test]
fn same_seed_same_bytes() {
    let a = issue(DeviceConfig::new(7), [1; 32], None).unwrap();
    let b = issue(DeviceConfig::new(7), [1; 32], None).unwrap();
    assert_eq!(a.files(), b.files());
    let c = issue(DeviceConfig::new(8), [1; 32], None).unwrap();
    assert_ne!(a.report, c.report);
    assert_eq!(
        a.root_pem, c.root_pem,
        "the CA levels do not depend on the seed"
    );
}

#[test]
fn every_tampered_variant_fails_its_rule() {
    let nonce = [0x42u8; 32];
    for (name, t) in Tamper::ALL {
        let ev = issue(DeviceConfig::new(0), nonce, Some(t)).unwrap();
        let v = check(&ev, Some(nonce));
        assert!(!v.is_valid(), "{name}");
        assert!(v.failed(t.rule()), "{name}: {:?}", v.checks);
    }
}

#[test]
fn devtools_mode_fails_the_production_rim_and_cc_off_gives_no_report() {
    let mut cfg = DeviceConfig::new(0);
    cfg.cc_mode = CcMode::Devtools;
    let ev = issue(cfg, [0; 32], None).unwrap();
    let v = check(&ev, None);
    assert!(v.failed("GPU-MEASUREMENTS"));
    assert!(v.checks.iter().any(|c| c.detail.contains("39 (Driver)")));
    let mut cfg = DeviceConfig::new(0);
    cfg.cc_mode = CcMode::Off;
    assert!(issue(cfg, [0; 32], None).is_err());
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sim-gpu-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed for this test");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// DER `Ecdsa-Sig-Value` from raw r‖s, written independently of the code under test.
fn der_sig(raw: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        if v.first().is_none_or(|x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut o = vec![0x02, v.len() as u8];
        o.extend(v);
        o
    };
    let mut body = int(&raw[..48]);
    body.extend(int(&raw[48..]));
    let mut o = vec![0x30, body.len() as u8];
    o.extend(body);
    o
}

#[test]
fn openssl_verifies_the_chain_and_the_report_signature() {
    for seed in [0u64, 5] {
        let ev = issue(DeviceConfig::new(seed), [9; 32], None).unwrap();
        let d = tmpdir(&format!("openssl-{seed}"));
        let certs = sim_core::x509::pem_certs(&ev.chain_pem).unwrap();
        assert_eq!(certs.len(), 5);
        let pem = |c: &Vec<u8>| sim_core::x509::to_pem("CERTIFICATE", c);
        std::fs::write(d.join("ak.pem"), pem(&certs[0])).unwrap();
        std::fs::write(
            d.join("untrusted.pem"),
            [pem(&certs[1]), pem(&certs[2]), pem(&certs[3])].concat(),
        )
        .unwrap();
        std::fs::write(d.join("root.pem"), &ev.root_pem).unwrap();
        let (ok, out) = openssl(
            &d,
            &[
                "verify",
                "-x509_strict",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "untrusted.pem",
                "ak.pem",
            ],
        );
        assert!(ok, "{out}");
        // Report signature: P-384/SHA-384 over everything but the last 96 bytes.
        let n = ev.report.len() - 96;
        std::fs::write(d.join("signed.bin"), &ev.report[..n]).unwrap();
        std::fs::write(d.join("sig.der"), der_sig(&ev.report[n..])).unwrap();
        let (ok, out) = openssl(
            &d,
            &[
                "x509", "-in", "ak.pem", "-pubkey", "-noout", "-out", "ak.pub",
            ],
        );
        assert!(ok, "{out}");
        let (ok, out) = openssl(
            &d,
            &[
                "dgst",
                "-sha384",
                "-verify",
                "ak.pub",
                "-signature",
                "sig.der",
                "signed.bin",
            ],
        );
        assert!(ok && out.contains("Verified OK"), "{out}");
        // One flipped bit: OpenSSL agrees it fails.
        let mut bad = ev.report[..n].to_vec();
        bad[100] ^= 1;
        std::fs::write(d.join("signed.bin"), bad).unwrap();
        let (ok, _) = openssl(
            &d,
            &[
                "dgst",
                "-sha384",
                "-verify",
                "ak.pub",
                "-signature",
                "sig.der",
                "signed.bin",
            ],
        );
        assert!(!ok);
        // The AK extension tail is the FWID TLV (openssl's DER dump of the leaf).
        let (ok, out) = openssl(&d, &["asn1parse", "-in", "ak.pem"]);
        assert!(ok);
        let fwid = hex::encode_upper(FirmwareSet::default().fwid());
        assert!(out.contains(&fwid), "FWID not in the AK extension");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
