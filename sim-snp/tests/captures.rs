//! Real reports from Milan, Genoa and Turin machines verify under AMD's real roots; every flipped bit in
//! the signed range or the signature makes them fail; `show` is snapshotted.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sim_snp::report::AttestationReport;
use sim_snp::Product;

#[test]
fn every_capture_verifies_under_amds_real_roots() {
    for c in WITH_VCEK {
        let v = verify_capture(&read(c.report), &cert_der(c.vcek), c.product);
        assert!(v.is_valid(), "{}: {}", c.name, v.render_human());
        assert_eq!(v.claims["root"], "amd", "{}", c.name);
        assert_eq!(v.claims["product"], c.product.name(), "{}", c.name);
        for id in [
            "SNP-REPORT-SIGNATURE",
            "SNP-CHAIN-VEK",
            "SNP-REPORT-TCB-MATCHES-VEK",
            "SNP-REPORT-HWID-MATCHES-VCEK",
        ] {
            assert!(
                v.checks.iter().any(|ch| ch.id == id && ch.ok),
                "{}: {id} not run",
                c.name
            );
        }
    }
}

#[test]
fn the_product_is_detected_without_being_told() {
    // v3/v5 by CPUID; v2 Milan by the VCEK's productName "Milan-B0".
    for c in WITH_VCEK {
        let r = AttestationReport::parse(&read(c.report)).unwrap();
        if r.raw.version.get() >= 3 {
            assert_eq!(r.cpuid_product(), Some(c.product), "{}", c.name);
        }
    }
    let genoa_v2 =
        AttestationReport::parse(&read("genoa/genoa_v2_routex_report_novcek.bin")).unwrap();
    assert_eq!(genoa_v2.cpuid_product(), None);
}

#[test]
fn turin_platform_info_bit_6_is_information_not_an_error() {
    let c = &WITH_VCEK[8];
    let v = verify_capture(&read(c.report), &cert_der(c.vcek), c.product);
    let pi = v
        .checks
        .iter()
        .find(|ch| ch.id == "SNP-REPORT-PLATFORM-INFO")
        .unwrap();
    assert!(pi.ok && pi.detail.contains("0x40"), "{}", pi.detail);
}

#[test]
fn a_flipped_bit_in_the_signed_range_or_signature_fails() {
    // One capture of each product: a flip at every byte (bit chosen by offset) of 0x000-0x4A0.
    for c in [&WITH_VCEK[2], &WITH_VCEK[6], &WITH_VCEK[7]] {
        let report = read(c.report);
        let vcek = cert_der(c.vcek);
        for off in 0..0x4A0usize {
            let mut bad = report.clone();
            bad[off] ^= 1 << (off % 8);
            let v = verify_capture(&bad, &vcek, c.product);
            assert!(
                !v.is_valid(),
                "{}: flip at 0x{off:03x} still verifies",
                c.name
            );
        }
    }
}

#[test]
fn a_wrong_root_or_wrong_vcek_fails() {
    let c = &WITH_VCEK[2];
    let report = read(c.report);
    // Genoa's roots for a Milan VCEK.
    let (ask, ark) = amd_roots(Product::Genoa);
    let vcek = cert_der(c.vcek);
    let ev = sim_snp::verify::Evidence {
        report: &report,
        vek: Some(&vcek),
        ask: Some(&ask),
        ark: Some(&ark),
        crl: None,
        product: Some(Product::Milan),
    };
    let v = sim_snp::verify::verify(
        &ev,
        &Default::default(),
        sim_snp::verify::Options { now: PINNED_NOW },
    );
    assert!(v.failed("SNP-CHAIN-VEK"), "{}", v.render_human());
    // Another Milan machine's VCEK.
    let other = cert_der(WITH_VCEK[3].vcek);
    let v = verify_capture(&report, &other, Product::Milan);
    assert!(
        v.failed("SNP-REPORT-SIGNATURE") && v.failed("SNP-REPORT-HWID-MATCHES-VCEK"),
        "{}",
        v.render_human()
    );
}

#[test]
fn expired_certificates_fail_at_their_time() {
    let c = &WITH_VCEK[0];
    let (ask, ark) = amd_roots(c.product);
    let report = read(c.report);
    let vcek = cert_der(c.vcek);
    let ev = sim_snp::verify::Evidence {
        report: &report,
        vek: Some(&vcek),
        ask: Some(&ask),
        ark: Some(&ark),
        crl: None,
        product: None,
    };
    // 2030-01-01: the 2022 VCEK (7 years) has expired.
    let v = sim_snp::verify::verify(
        &ev,
        &Default::default(),
        sim_snp::verify::Options { now: 1_893_456_000 },
    );
    assert!(v.failed("SNP-CHAIN-VALIDITY"), "{}", v.render_human());
}

#[test]
fn truncated_and_padded_reports_are_parse_errors_naming_the_offset() {
    let r = read(WITH_VCEK[0].report);
    let e = AttestationReport::parse(&r[..0x49F]).unwrap_err();
    assert_eq!((e.field, e.offset), ("ATTESTATION_REPORT", 0));
    let mut long = r.clone();
    long.push(0);
    assert_eq!(AttestationReport::parse(&long).unwrap_err().offset, 0x4A0);
    let mut bad = r.clone();
    bad[0x1F9] = 1; // v2 reserved 0x1F8..0x2A0
    let e = AttestationReport::parse(&bad).unwrap_err();
    assert_eq!((e.field, e.offset), ("RESERVED_0x1F8", 0x1F8));
}

#[test]
fn show_snapshots() {
    let mut names: Vec<(&str, &str)> = WITH_VCEK.iter().map(|c| (c.name, c.report)).collect();
    names.push((
        "genoa_v2_routex_novcek",
        "genoa/genoa_v2_routex_report_novcek.bin",
    ));
    names.dedup_by_key(|(_, r)| *r);
    for (name, rel) in names {
        let r = AttestationReport::parse(&read(rel)).unwrap();
        insta::assert_json_snapshot!(format!("show_{name}"), r.to_json(None));
    }
}
