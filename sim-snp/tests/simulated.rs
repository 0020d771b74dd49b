//! Simulated evidence for every product × report version (and a VLEK per product) is accepted by this
//! project's verifier, by OpenSSL (chain and report signature) and by the `sev` crate (virtee,
//! `crypto_nossl` backend) against the simulated ARK; tampering is caught by all three.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use sim_snp::evidence::{self, ReportSpec, Signer};
use sim_snp::report::{AttestationReport, ReportVersion};
use sim_snp::verify::{Evidence, Options, Policy};
use sim_snp::Product;

/// One day after the issue epoch.
const NOW: i64 = sim_core::time::ISSUE_EPOCH + 86_400;

fn cases() -> Vec<ReportSpec> {
    let mut out = Vec::new();
    for (i, p) in Product::ALL.into_iter().enumerate() {
        for v in [ReportVersion::V2, ReportVersion::V3, ReportVersion::V5] {
            let mut s = ReportSpec::new(p, 100 + i as u64);
            s.report_version = Some(v);
            s.report_data[..4].copy_from_slice(b"cvms");
            s.host_data[0] = 0x42;
            out.push(s);
        }
        let mut s = ReportSpec::new(p, 200 + i as u64);
        s.signer = Signer::Vlek;
        s.vmpl = 2;
        out.push(s);
    }
    out
}

fn ours(b: &evidence::Bundle) -> sim_core::Verdict {
    let ev = Evidence {
        report: &b.report,
        vek: Some(&b.vek),
        ask: Some(&b.ask),
        ark: Some(&b.ark),
        crl: None,
        product: None,
    };
    sim_snp::verify::verify(&ev, &Policy::default(), Options { now: NOW })
}

fn sev_crate(b: &evidence::Bundle) -> Result<(), String> {
    use sev::certs::snp::{Chain, Verifiable};
    use sev::firmware::guest::AttestationReport as SevReport;
    use sev::parser::ByteParser;
    let report = SevReport::from_bytes(&b.report).map_err(|e| format!("parse: {e}"))?;
    let chain = Chain::from_der(&b.ark, &b.ask, &b.vek).map_err(|e| format!("chain: {e}"))?;
    (&chain, &report)
        .verify()
        .map_err(|e| format!("verify: {e}"))
}

/// DER `Ecdsa-Sig-Value` from AMD's little-endian R and S, written here independently of the crate.
fn der_signature(report: &[u8]) -> Vec<u8> {
    let int = |le: &[u8]| {
        let mut be: Vec<u8> = le[..48].iter().rev().copied().collect();
        while be.len() > 1 && be[0] == 0 && be[1] & 0x80 == 0 {
            be.remove(0);
        }
        if be[0] & 0x80 != 0 {
            be.insert(0, 0);
        }
        let mut out = vec![0x02, be.len() as u8];
        out.extend(be);
        out
    };
    let mut body = int(&report[0x2A0..0x2E8]);
    body.extend(int(&report[0x2E8..0x330]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn openssl_checks(b: &evidence::Bundle, name: &str) -> Result<(), String> {
    let dir =
        std::env::temp_dir().join(format!("cvmsim-snp-openssl-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    sim_core::files::write_set(&dir, &b.files()).unwrap();
    let vek = if b.signer == Signer::Vcek {
        "vcek"
    } else {
        "vlek"
    };
    let ask = if b.signer == Signer::Vcek {
        "ask.pem"
    } else {
        "asvk.pem"
    };
    std::fs::write(
        dir.join("vek.pem"),
        sim_core::x509::to_pem("CERTIFICATE", &b.vek),
    )
    .unwrap();
    let attime = NOW.to_string();
    let (ok, out) = openssl(
        &[
            "verify",
            "-attime",
            &attime,
            "-CAfile",
            "ark.pem",
            "-untrusted",
            ask,
            "vek.pem",
        ],
        &dir,
    );
    if !ok {
        return Err(format!("openssl verify {vek}: {out}"));
    }
    let (ok, out) = openssl(
        &[
            "x509", "-in", "vek.pem", "-pubkey", "-noout", "-out", "pub.pem",
        ],
        &dir,
    );
    if !ok {
        return Err(out);
    }
    std::fs::write(dir.join("signed.bin"), &b.report[..0x2A0]).unwrap();
    std::fs::write(dir.join("sig.der"), der_signature(&b.report)).unwrap();
    let (ok, out) = openssl(
        &[
            "dgst",
            "-sha384",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.der",
            "signed.bin",
        ],
        &dir,
    );
    let _ = std::fs::remove_dir_all(&dir);
    if ok {
        Ok(())
    } else {
        Err(format!("openssl dgst: {out}"))
    }
}

#[test]
fn every_product_and_version_verifies_in_three_independent_verifiers() {
    for (i, spec) in cases().iter().enumerate() {
        let b = evidence::issue(spec).unwrap();
        let name = format!(
            "{}-{:?}-{:?}-{i}",
            spec.product, spec.report_version, spec.signer
        );
        let r = AttestationReport::parse(&b.report).unwrap();
        if let Some(v) = spec.report_version {
            assert_eq!(r.version, v, "{name}");
        }
        let v = ours(&b);
        assert!(v.is_valid(), "{name}: {}", v.render_human());
        assert_eq!(v.claims["root"], "cvmsim-simulated");
        sev_crate(&b).unwrap_or_else(|e| panic!("{name}: sev crate: {e}"));
        openssl_checks(&b, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn tampering_is_caught_by_all_three() {
    let b = evidence::issue(&ReportSpec::new(Product::Genoa, 7)).unwrap();
    for off in [0x050usize, 0x090, 0x180, 0x29F, 0x2A0, 0x2E8] {
        let mut t = b.clone();
        t.report[off] ^= 0x01;
        assert!(!ours(&t).is_valid(), "ours accepts a flip at 0x{off:x}");
        assert!(sev_crate(&t).is_err(), "sev accepts a flip at 0x{off:x}");
        assert!(
            openssl_checks(&t, &format!("tamper{off}")).is_err(),
            "openssl accepts a flip at 0x{off:x}"
        );
    }
    // A VCEK of another chip.
    let other = evidence::issue(&ReportSpec::new(Product::Genoa, 8)).unwrap();
    let mut t = b.clone();
    t.vek = other.vek.clone();
    assert!(ours(&t).failed("SNP-REPORT-SIGNATURE"));
    assert!(sev_crate(&t).is_err());
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_another_chip() {
    let a = evidence::issue(&ReportSpec::new(Product::Turin, 5)).unwrap();
    let b = evidence::issue(&ReportSpec::new(Product::Turin, 5)).unwrap();
    assert_eq!(a.files(), b.files());
    let c = evidence::issue(&ReportSpec::new(Product::Turin, 6)).unwrap();
    assert_ne!(a.report[0x1A0..0x1A8], c.report[0x1A0..0x1A8]);
    assert_ne!(a.vek, c.vek);
}

#[test]
fn the_cert_table_carries_the_chain_that_verifies_the_report() {
    use sim_snp::layout::cert_table;
    let b = evidence::issue(&ReportSpec::new(Product::Milan, 9)).unwrap();
    let entries = cert_table::decode(&b.cert_table).unwrap();
    let get = |g| {
        entries
            .iter()
            .find(|e| e.guid == g)
            .map(|e| e.data.clone())
            .unwrap()
    };
    assert_eq!(get(cert_table::GUID_ARK), b.ark);
    assert_eq!(get(cert_table::GUID_ASK), b.ask);
    assert_eq!(get(cert_table::GUID_VCEK), b.vek);
}

#[test]
fn the_ark_signed_crl_revokes_an_ask_for_us_and_for_openssl() {
    use sim_snp::pki::{vendor, Endorsement};
    let b = evidence::issue(&ReportSpec::new(Product::Milan, 11)).unwrap();
    let ca = vendor(Product::Milan);
    let (_, ask_serial, _) = Product::Milan.ca_serials();
    let clean = ca
        .crl(Endorsement::Vcek, &[], sim_core::time::ISSUE_EPOCH)
        .unwrap();
    let revoked = ca
        .crl(
            Endorsement::Vcek,
            &[ask_serial],
            sim_core::time::ISSUE_EPOCH,
        )
        .unwrap();
    let run = |crl: &[u8]| {
        let ev = Evidence {
            report: &b.report,
            vek: Some(&b.vek),
            ask: Some(&b.ask),
            ark: Some(&b.ark),
            crl: Some(crl),
            product: None,
        };
        sim_snp::verify::verify(&ev, &Policy::default(), Options { now: NOW })
    };
    assert!(run(&clean).is_valid());
    assert!(run(&revoked).failed("SNP-CHAIN-REVOCATION"));
    // OpenSSL: the CRL's signature verifies under the ARK, and `verify -crl_check` rejects the revoked ASK.
    let dir = std::env::temp_dir().join(format!("cvmsim-snp-crl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ark.pem"),
        sim_core::x509::to_pem("CERTIFICATE", &b.ark),
    )
    .unwrap();
    std::fs::write(
        dir.join("ask.pem"),
        sim_core::x509::to_pem("CERTIFICATE", &b.ask),
    )
    .unwrap();
    std::fs::write(
        dir.join("clean.pem"),
        sim_core::x509::to_pem("X509 CRL", &clean),
    )
    .unwrap();
    std::fs::write(
        dir.join("revoked.pem"),
        sim_core::x509::to_pem("X509 CRL", &revoked),
    )
    .unwrap();
    let attime = NOW.to_string();
    let (ok, out) = openssl(
        &["crl", "-in", "revoked.pem", "-CAfile", "ark.pem", "-noout"],
        &dir,
    );
    assert!(ok && out.contains("verify OK"), "{out}");
    let (ok, out) = openssl(
        &[
            "verify",
            "-attime",
            &attime,
            "-crl_check",
            "-CAfile",
            "ark.pem",
            "-CRLfile",
            "clean.pem",
            "ask.pem",
        ],
        &dir,
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        &[
            "verify",
            "-attime",
            &attime,
            "-crl_check",
            "-CAfile",
            "ark.pem",
            "-CRLfile",
            "revoked.pem",
            "ask.pem",
        ],
        &dir,
    );
    assert!(!ok && out.contains("revoked"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
