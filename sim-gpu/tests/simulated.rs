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
fn nvdec0_disabled_skips_index_35_as_nvat_does() {
    let nonce = [0x42u8; 32];
    let ev = issue(DeviceConfig::new(0), nonce, Some(Tamper::Nvdec0Index35)).unwrap();
    let r = sim_gpu::layout::Report::parse(&ev.report).unwrap();
    assert_eq!(
        r.response
            .opaque
            .get(sim_gpu::layout::OpaqueType::NVDEC0_STATUS),
        Some(&[0x55][..])
    );
    let v = check(&ev, Some(nonce));
    assert!(v.is_valid(), "{:?}", v.first_failure());
    let golden = sim_gpu::rim::Rim::parse(&ev.rims[0].1).unwrap();
    let r35 = golden.resources.iter().find(|x| x.index == 35).unwrap();
    assert!(
        !r35.hashes
            .contains(&hex::encode(r.measurement(36).unwrap())),
        "block 36 must be off golden"
    );
    // With NVDEC0 enabled the same register value is a mismatch.
    let mut cfg = DeviceConfig::new(0);
    cfg.nvdec0_enabled = true;
    let dev = sim_gpu::device::H100::new(cfg).unwrap();
    let bad = dev
        .get_measurements_with(nonce, |r| r.blocks[35].value[0] ^= 1)
        .unwrap();
    let mut ev2 = issue(DeviceConfig::new(0), nonce, None).unwrap();
    ev2.report = bad;
    assert!(check(&ev2, Some(nonce)).failed("GPU-MEASUREMENTS"));
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

#[test]
fn opaque_data_matches_the_580_159_03_capture_field_by_field() {
    // The capture's firmware set (README): H100 PCIe 1010/0205/862, driver 580.159.03, VBIOS 96.00.74.00.20.
    let t = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/gpu/captures/h100pcie-862_580.159.03_nvat-testdata.report.hex"
    ))
    .unwrap();
    let real = sim_gpu::layout::Report::parse(&hex::decode(t.trim()).unwrap()).unwrap();
    let mut cfg = DeviceConfig::new(0);
    cfg.firmware = FirmwareSet {
        driver_version: "580.159.03".into(),
        vbios_version: "96.00.74.00.20".into(),
        project: "1010".into(),
        project_sku: "0205".into(),
        chip_sku: "862".into(),
        chip_sku_mod: "0".into(),
        board_id: 0x4a1,
    };
    let ev = issue(cfg, [0; 32], None).unwrap();
    let sim = sim_gpu::layout::Report::parse(&ev.report).unwrap();
    let kinds = |r: &sim_gpu::layout::Report| -> Vec<_> {
        r.response
            .opaque
            .fields
            .iter()
            .map(|f| (f.kind, f.value.len()))
            .collect()
    };
    // Same types, in the same order, with the same lengths.
    assert_eq!(kinds(&sim), kinds(&real));
    assert_eq!(sim.response.opaque_length, real.response.opaque_length);
    // Same bytes, except the firmware digests (FWID) and the per-register counts (MSRSCNT).
    use sim_gpu::layout::OpaqueType::{FWID, MSRSCNT};
    for (a, b) in sim
        .response
        .opaque
        .fields
        .iter()
        .zip(&real.response.opaque.fields)
    {
        if a.kind != FWID && a.kind != MSRSCNT {
            assert_eq!(a.value, b.value, "{:?}", a.kind);
        }
    }
    assert_eq!(ev.report.len(), 37 + 8 + 64 * 55 + 32 + 2 + 435 + 96);
}

#[test]
fn claims_have_the_shape_of_nvidias_claims_3_0() {
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../vectors/gpu/captures/h100pcie_550.90.07_nras-claims-decoded.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let want = want["GPU-0"].as_object().unwrap();
    let ev = issue(DeviceConfig::new(0), [3; 32], None).unwrap();
    let got = check(&ev, Some([3; 32])).claims;
    let got = got.as_object().unwrap();
    for (k, v) in want {
        if ["iss", "iat", "exp", "nbf", "jti"].contains(&k.as_str()) {
            continue; // token fields, not claims of the evidence
        }
        let g = got.get(k).unwrap_or_else(|| panic!("claim {k} missing"));
        let kind = |x: &serde_json::Value| std::mem::discriminant(x);
        assert_eq!(kind(g), kind(v), "claim {k}: {g} vs NVIDIA's {v}");
        if v.is_boolean() {
            assert_eq!(g, v, "claim {k}");
        }
        if let Some(o) = v.as_object() {
            let ok: Vec<_> = o.keys().collect();
            let gk: Vec<_> = g.as_object().unwrap().keys().collect();
            assert_eq!(gk, ok, "claim {k}");
        }
    }
    assert_eq!(got["hwmodel"], want["hwmodel"]);
    assert_eq!(got["measres"], want["measres"]);
    assert_eq!(got["dbgstat"], want["dbgstat"]);
    assert_eq!(got["oemid"], want["oemid"]);
}

#[test]
fn an_index_active_in_both_rims_is_a_conflict() {
    let ev = issue(DeviceConfig::new(0), [3; 32], None).unwrap();
    let report = sim_gpu::layout::Report::parse(&ev.report).unwrap();
    let driver = sim_gpu::rim::Rim::parse(&ev.rims[0].1).unwrap();
    let mut vbios = sim_gpu::rim::Rim::parse(&ev.rims[1].1).unwrap();
    assert!(
        sim_gpu::verify::compare_measurements(&report, &driver, &vbios)
            .unwrap()
            .is_empty()
    );
    vbios.resources[7].active = true; // index 7 belongs to the driver RIM
    let e = sim_gpu::verify::compare_measurements(&report, &driver, &vbios).unwrap_err();
    assert!(e.contains("index 7 is active in both"), "{e}");
    // A runtime value equal to a non-first alternative still matches.
    let mut d2 = driver.clone();
    let r = d2.resources.iter_mut().find(|r| r.index == 21).unwrap();
    let actual = r.hashes[0].clone();
    r.hashes = vec!["ab".repeat(48), actual];
    assert!(sim_gpu::verify::compare_measurements(&report, &d2, &vbios.clone()).is_err()); // still conflicting
    vbios.resources[7].active = false;
    assert!(sim_gpu::verify::compare_measurements(&report, &d2, &vbios)
        .unwrap()
        .is_empty());
}

#[test]
fn the_committed_simulated_vector_is_reproduced_byte_for_byte() {
    // vectors/gpu/simulated/h100-550.90.07_seed0 was written by
    // `cvmsim gpu evidence --out DIR --nonce 4cff7f53...af2e --seed 0`.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vectors/gpu/simulated/h100-550.90.07_seed0");
    let nonce: [u8; 32] =
        hex::decode("4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e")
            .unwrap()
            .try_into()
            .unwrap();
    let ev = issue(DeviceConfig::new(0), nonce, None).unwrap();
    for (name, bytes) in ev.files() {
        assert_eq!(std::fs::read(dir.join(&name)).unwrap(), bytes, "{name}");
    }
}
