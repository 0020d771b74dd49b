//! Real H100 captures (vectors/gpu/captures, origins in its README): parsing.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use sim_gpu::layout::{OpaqueType, Report};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/gpu/captures")
}

fn report(name: &str) -> Vec<u8> {
    let t = std::fs::read_to_string(dir().join(name)).unwrap();
    hex::decode(t.trim()).unwrap()
}

const HOPPER: [&str; 3] = [
    "h100pcie_535.86.09_nvat-sample",
    "h100pcie-862_580.159.03_nvat-testdata",
    "h100pcie_580.95.05_trustee-coco-ci",
];

#[test]
fn parse_of_580_159_03_equals_nvidias_parsed_json() {
    let bytes = report("h100pcie-862_580.159.03_nvat-testdata.report.hex");
    let r = Report::parse(&bytes).unwrap();
    let want_req: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir().join("h100pcie-862_580.159.03_nvat-testdata.parsed-request.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(sim_gpu::show::request_json(&r), want_req);
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir().join("h100pcie-862_580.159.03_nvat-testdata.parsed-response.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut got = sim_gpu::show::response_json(&r);
    // NVAT's golden parse has no entries for types 34 and 36; ours has them and nothing else extra.
    let op = got["OpaqueData"]["OpaqueDataField"]
        .as_object_mut()
        .unwrap();
    assert_eq!(
        op.remove("OPAQUE_FIELD_ID_OPAQUE_DATA_VERSION").unwrap(),
        "0x0100"
    );
    assert_eq!(op.remove("OPAQUE_FIELD_ID_FEATURE_FLAG").unwrap(), "0x0000");
    assert_eq!(got, want);
    assert!(r.trailing.is_empty());
    assert_eq!(r.signature_offset, bytes.len() - 96);
}

#[test]
fn every_hopper_capture_parses_by_lengths() {
    for name in HOPPER {
        let bytes = report(&format!("{name}.report.hex"));
        let r = Report::parse(&bytes).unwrap();
        assert_eq!(r.response.blocks.len(), 64, "{name}");
        // Absolute offsets of gpu.md §1.2: opaque data at 3599.
        assert_eq!(r.response.opaque.fields[0].offset, 3599, "{name}");
        let trailing = usize::from(name.contains("trustee"));
        assert_eq!(r.trailing.len(), trailing, "{name}");
        assert_eq!(r.signature_offset + 96 + trailing, bytes.len(), "{name}");
    }
    // The PPCIe evidence JSON (base64 report).
    let j: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("hgx-h100-ppcie_590.12_nvat-evidence.json")).unwrap(),
    )
    .unwrap();
    use base64::Engine;
    let ev = base64::engine::general_purpose::STANDARD
        .decode(j[0]["evidence"].as_str().unwrap())
        .unwrap();
    let r = Report::parse(&ev).unwrap();
    assert_eq!(
        r.response.opaque.get(OpaqueType::PROTECTED_PCIE_STATUS),
        Some(&[0xaa][..])
    );
    assert_eq!(
        r.response
            .opaque
            .get(OpaqueType::SWITCH_PDI)
            .map(|v| v.len()),
        Some(18 * 8)
    );
}

#[test]
fn decoded_versions_match_the_readme() {
    let r = Report::parse(&report("h100pcie_535.86.09_nvat-sample.report.hex")).unwrap();
    assert_eq!(
        r.response.opaque.driver_version().as_deref(),
        Some("535.86.09")
    );
    assert_eq!(
        r.response.opaque.vbios_version().as_deref(),
        Some("96.00.5e.00.01")
    );
    assert_eq!(r.response.opaque_length, 357);
    assert!(r.response.opaque.fwid().is_none());
    let r = Report::parse(&report("h100pcie_580.95.05_trustee-coco-ci.report.hex")).unwrap();
    assert_eq!(
        r.response.opaque.vbios_version().as_deref(),
        Some("96.00.74.00.1a")
    );
    assert_eq!(r.trailing, vec![0]);
}

#[test]
fn truncations_name_the_field_and_offset() {
    let bytes = report("h100pcie-862_580.159.03_nvat-testdata.report.hex");
    let e = Report::parse(&bytes[..20]).unwrap_err();
    assert_eq!((e.field, e.offset), ("GET_MEASUREMENTS", 0));
    let e = Report::parse(&bytes[..3570]).unwrap_err();
    assert_eq!((e.field, e.offset), ("Nonce", 3565));
    let e = Report::parse(&bytes[..bytes.len() - 1]).unwrap_err();
    assert_eq!((e.field, e.offset), ("Signature", bytes.len() - 96));
    let mut b = bytes.clone();
    b[37 + 8 + 55] = 7; // block 2's index
    let e = Report::parse(&b).unwrap_err();
    assert_eq!((e.field, e.offset), ("MeasurementBlock.Index", 100));
    let mut b = bytes;
    b[3598] = 0xff; // OpaqueLength high byte
    let e = Report::parse(&b).unwrap_err();
    assert_eq!((e.field, e.offset), ("OpaqueData", 3599));
}

#[test]
fn real_rim_signatures_verify_and_a_flipped_hash_fails() {
    for name in [
        "rim_driver_NV_GPU_DRIVER_GH100_550.144.03.xml",
        "rim_vbios_NV_GPU_VBIOS_1010_0200_882_96005E0001.swidtag",
        "rim_vbios_NV_GPU_VBIOS_1010_0200_882_960074001A.swidtag",
    ] {
        let xml = std::fs::read_to_string(dir().join(name)).unwrap();
        let info =
            sim_gpu::xmldsig::verify_enveloped(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.certs.len(), 4, "{name}");
        // One changed golden hex digit breaks the reference digest.
        let i = xml.find("ns2:Hash0=\"").unwrap() + 11;
        let mut bad = xml.clone().into_bytes();
        bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
        let e = sim_gpu::xmldsig::verify_enveloped(std::str::from_utf8(&bad).unwrap()).unwrap_err();
        assert!(
            matches!(e, sim_gpu::xmldsig::DsigError::Digest { .. }),
            "{name}: {e}"
        );
    }
}

fn root(name: &str) -> Vec<u8> {
    let pem = std::fs::read_to_string(dir().join(name)).unwrap();
    sim_core::x509::pem_certs(&pem).unwrap().remove(0)
}

fn opts(now: &str) -> sim_gpu::verify::Options {
    sim_gpu::verify::Options {
        nonce: None,
        now: sim_core::time::parse_rfc3339(now).unwrap(),
        allow_trailing_bytes: false,
    }
}

#[test]
fn every_hopper_capture_verifies_under_nvidias_root() {
    let root = root("root_nvidia-device-identity-ca.pem");
    for name in HOPPER {
        let bytes = report(&format!("{name}.report.hex"));
        let chain = std::fs::read_to_string(dir().join(format!("{name}.certchain.pem"))).unwrap();
        let v = sim_gpu::verify::verify(&bytes, &chain, &root, None, &opts("2025-06-01T00:00:00Z"));
        for c in &v.checks {
            if c.id == "GPU-REPORT-LENGTH" && name.contains("trustee") {
                // Documented outcome: one trailing 0x00; NVIDIA's verifiers reject, trustee accepts.
                assert!(!c.ok, "{name}");
                assert!(
                    c.detail
                        .contains("1 byte(s) after the signature at offset 4129"),
                    "{}",
                    c.detail
                );
            } else {
                assert!(c.ok, "{name}: {} {}", c.id, c.detail);
            }
        }
        // With trailing bytes allowed (trustee's behaviour) every capture is valid.
        let mut o = opts("2025-06-01T00:00:00Z");
        o.allow_trailing_bytes = true;
        assert!(
            sim_gpu::verify::verify(&bytes, &chain, &root, None, &o).is_valid(),
            "{name}"
        );
    }
    // PPCIe evidence JSON.
    let j: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("hgx-h100-ppcie_590.12_nvat-evidence.json")).unwrap(),
    )
    .unwrap();
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD;
    let ev = b.decode(j[0]["evidence"].as_str().unwrap()).unwrap();
    let chain =
        String::from_utf8(b.decode(j[0]["certificate"].as_str().unwrap()).unwrap()).unwrap();
    let mut o = opts("2025-06-01T00:00:00Z");
    o.nonce = Some(
        hex::decode(j[0]["nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let v = sim_gpu::verify::verify(&ev, &chain, &root, None, &o);
    assert!(v.is_valid(), "{:?}", v.first_failure());
}

#[test]
fn flipped_bits_fail() {
    let root = root("root_nvidia-device-identity-ca.pem");
    let name = "h100pcie-862_580.159.03_nvat-testdata";
    let bytes = report(&format!("{name}.report.hex"));
    let chain = std::fs::read_to_string(dir().join(format!("{name}.certchain.pem"))).unwrap();
    let o = opts("2025-06-01T00:00:00Z");
    // A bit in the nonce, a measurement, the responder nonce, an opaque value, the signature.
    for off in [10usize, 45 + 7 + 55, 3570, 3599 + 4, bytes.len() - 5] {
        let mut b = bytes.clone();
        b[off] ^= 0x01;
        let v = sim_gpu::verify::verify(&b, &chain, &root, None, &o);
        assert!(v.failed("GPU-REPORT-SIGNATURE"), "offset {off}");
    }
    // A wrong expected nonce.
    let mut o2 = o.clone();
    o2.nonce = Some([0x11; 32]);
    assert!(sim_gpu::verify::verify(&bytes, &chain, &root, None, &o2).failed("GPU-NONCE-MATCH"));
    // Another root (the RIM root) does not anchor the device chain.
    let other = super_root();
    assert!(sim_gpu::verify::verify(&bytes, &chain, &other, None, &o).failed("GPU-CERT-CHAIN"));
    // Four certificates.
    let certs = sim_core::x509::pem_certs(&chain).unwrap();
    let four: String = certs[..4]
        .iter()
        .map(|d| sim_core::x509::to_pem("CERTIFICATE", d))
        .collect();
    assert!(sim_gpu::verify::verify(&bytes, &four, &root, None, &o).failed("GPU-CERT-CHAIN-COUNT"));
    // The FWID of another capture's AK.
    let other_chain =
        std::fs::read_to_string(dir().join("h100pcie_580.95.05_trustee-coco-ci.certchain.pem"))
            .unwrap();
    let v = sim_gpu::verify::verify(&bytes, &other_chain, &root, None, &o);
    assert!(v.failed("GPU-REPORT-SIGNATURE"));
}

fn super_root() -> Vec<u8> {
    root("root_nvidia-corim-signing-root-ca.pem")
}

#[test]
fn rims_535_vbios_measurements_match_and_trustee_index_9_mismatches() {
    let droot = root("root_nvidia-device-identity-ca.pem");
    let rroot = root("root_nvidia-corim-signing-root-ca.pem");
    let driver =
        std::fs::read_to_string(dir().join("rim_driver_NV_GPU_DRIVER_GH100_550.144.03.xml"))
            .unwrap();
    let driver_rim = sim_gpu::rim::Rim::parse(&driver).unwrap();
    for (cap, vb, mismatches) in [
        (
            "h100pcie_535.86.09_nvat-sample",
            "rim_vbios_NV_GPU_VBIOS_1010_0200_882_96005E0001.swidtag",
            vec![],
        ),
        (
            "h100pcie_580.95.05_trustee-coco-ci",
            "rim_vbios_NV_GPU_VBIOS_1010_0200_882_960074001A.swidtag",
            vec![9u32],
        ),
    ] {
        let bytes = report(&format!("{cap}.report.hex"));
        let r = sim_gpu::layout::Report::parse(&bytes).unwrap();
        let vxml = std::fs::read_to_string(dir().join(vb)).unwrap();
        let vrim = sim_gpu::rim::Rim::parse(&vxml).unwrap();
        assert_eq!(vrim.active().count(), 12);
        let m = sim_gpu::verify::compare_measurements(&r, &driver_rim, &vrim).unwrap();
        let firmware: Vec<u32> = m
            .iter()
            .filter(|x| x.source == "Firmware")
            .map(|x| x.index)
            .collect();
        assert_eq!(firmware, mismatches, "{cap}");
        // RIM signature and chain at a time the signer was valid; expired afterwards.
        let chk = sim_gpu::verify::check_rim(
            &vxml,
            &rroot,
            sim_core::time::parse_rfc3339("2024-09-01T00:00:00Z").unwrap(),
        );
        assert!(
            chk.signature.is_ok() && chk.chain.is_ok(),
            "{vb}: {:?}",
            chk.chain
        );
        let chk = sim_gpu::verify::check_rim(
            &vxml,
            &rroot,
            sim_core::time::parse_rfc3339("2026-11-29T00:00:00Z").unwrap(),
        );
        assert!(chk.chain.unwrap_err().contains("not valid at"));
        // Full verdict: the VBIOS side matches for 535.86.09; the driver RIM (550.144.03) is for
        // another driver, so its version check and driver measurements fail as documented.
        let chain = std::fs::read_to_string(dir().join(format!("{cap}.certchain.pem"))).unwrap();
        let mut o = opts("2024-09-01T00:00:00Z");
        o.allow_trailing_bytes = true;
        let v = sim_gpu::verify::verify(
            &bytes,
            &chain,
            &droot,
            Some(sim_gpu::verify::RimInputs {
                driver: &driver,
                vbios: &vxml,
                root_der: &rroot,
            }),
            &o,
        );
        assert!(!v.failed("GPU-VBIOS-RIM-SIGNATURE") && !v.failed("GPU-VBIOS-RIM-CERT-CHAIN"));
        assert!(!v.failed("GPU-VBIOS-RIM-VERSION"), "{cap}");
        assert!(v.failed("GPU-DRIVER-RIM-VERSION"));
        assert!(v.failed("GPU-MEASUREMENTS"));
    }
    let chk = sim_gpu::verify::check_rim(
        &driver,
        &rroot,
        sim_core::time::parse_rfc3339("2025-06-01T00:00:00Z").unwrap(),
    );
    assert!(
        chk.signature.is_ok() && chk.chain.is_ok(),
        "{:?}",
        chk.chain
    );
}

#[test]
fn blackwell_contrast_sample_signature_and_chain_verify_but_it_is_not_hopper() {
    // Documented outcome: GB100 evidence has the same layout and root; its leaf carries the DICE TcbInfo
    // extension 2.23.133.5.4.1.1 instead of 2.23.133.5.4.1, which this Hopper verifier does not read.
    let root = root("root_nvidia-device-identity-ca.pem");
    let bytes = report("gb100_575.32_nvat-sample.report.hex");
    let chain =
        std::fs::read_to_string(dir().join("gb100_575.32_nvat-sample.certchain.pem")).unwrap();
    let v = sim_gpu::verify::verify(&bytes, &chain, &root, None, &opts("2025-06-01T00:00:00Z"));
    let failed: Vec<&str> = v
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(failed, ["GPU-ARCH", "GPU-FWID-MATCH"]);
}
