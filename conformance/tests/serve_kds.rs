//! `cvmsim serve` as AMD's KDS: a VCEK fetched by the URL snpguest and the `sev` crate build verifies the
//! simulated report (checked by the `sev` crate and by this project's verifier), the chains and CRLs
//! verify under OpenSSL, and bad requests get the KDS status codes. All on loopback, bounded in time.

#![allow(clippy::unwrap_used)]

mod serve_common;

use serve_common::{cvmsim, openssl, pem_ders, tmp, Server};
use sev::certs::snp::{Chain, Verifiable};
use sev::firmware::guest::AttestationReport as SevReport;
use sev::parser::ByteParser;

/// The path snpguest's `fetch vcek` builds from a report (snp.md §2.3: SPLs zero-padded `{:02}`; Turin
/// puts `fmcSPL` first and uses the first 8 bytes of CHIP_ID), parsed by the `sev` crate.
fn snpguest_vcek_path(product: &str, report: &SevReport) -> String {
    let t = &report.reported_tcb;
    match t.fmc {
        Some(fmc) => format!(
            "/vcek/v1/{product}/{}?fmcSPL={fmc:02}&blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
            hex::encode(&report.chip_id[..8]),
            t.bootloader,
            t.tee,
            t.snp,
            t.microcode
        ),
        None => format!(
            "/vcek/v1/{product}/{}?blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
            hex::encode(report.chip_id),
            t.bootloader,
            t.tee,
            t.snp,
            t.microcode
        ),
    }
}

fn sev_verify(report: &SevReport, ark: &[u8], ask: &[u8], vek: &[u8]) -> Result<(), String> {
    let chain = Chain::from_der(ark, ask, vek).map_err(|e| format!("chain: {e}"))?;
    (&chain, report)
        .verify()
        .map_err(|e| format!("verify: {e}"))
}

const NOW: i64 = sim_core::time::ISSUE_EPOCH + 86_400;

#[test]
fn vcek_fetched_by_snpguest_url_verifies_the_simulated_report() {
    let srv = Server::start("kds-vcek", &["--seed", "3", "--seed", "7"]);
    // (product, KDS name, seed, --tcb): the Genoa TCB is above the chip's default, which the KDS still
    // derives a VCEK for, as AMD's does.
    let cases = [
        ("milan", "Milan", "3", None),
        ("genoa", "Genoa", "7", Some("bl=11,tee=0,snp=24,ucode=250")),
        ("turin", "Turin", "3", None),
    ];
    for (product, kds, seed, tcb) in cases {
        let dir = tmp(&format!("vcek-{product}"));
        let d = dir.to_str().unwrap();
        let mut args = vec![
            "snp",
            "report",
            "--out",
            d,
            "--product",
            product,
            "--seed",
            seed,
        ];
        if let Some(t) = tcb {
            args.extend(["--tcb", t]);
        }
        cvmsim(&args);
        let report_bytes = std::fs::read(dir.join("report.bin")).unwrap();
        let report = SevReport::from_bytes(&report_bytes).unwrap();
        let vcek = srv.get_ok(&snpguest_vcek_path(kds, &report));
        let chain = pem_ders(&srv.get_ok(&format!("/vcek/v1/{kds}/cert_chain")));
        assert_eq!(chain.len(), 2, "{kds}: cert_chain is ASK then ARK");
        let (ask, ark) = (&chain[0], &chain[1]);
        let crl = srv.get_ok(&format!("/vcek/v1/{kds}/crl"));

        sev_verify(&report, ark, ask, &vcek)
            .unwrap_or_else(|e| panic!("{kds}: sev crate rejects the fetched VCEK: {e}"));
        let v = sim_snp::verify::verify(
            &sim_snp::verify::Evidence {
                report: &report_bytes,
                vek: Some(&vcek),
                ask: Some(ask),
                ark: Some(ark),
                crl: Some(&crl),
                product: None,
            },
            &sim_snp::verify::Policy::default(),
            sim_snp::verify::Options { now: NOW },
        );
        assert!(v.is_valid(), "{kds}: {}", v.render_human());
        // Same seed and TCB as `cvmsim snp report`: the same certificate bytes.
        assert_eq!(vcek, std::fs::read(dir.join("vcek.der")).unwrap(), "{kds}");

        // A VCEK of another TCB is another key: the report must not verify with it.
        let mut other = report;
        other.reported_tcb.snp = other.reported_tcb.snp.wrapping_add(1);
        let wrong = srv.get_ok(&snpguest_vcek_path(kds, &other));
        assert_ne!(wrong, vcek);
        assert!(sev_verify(&report, ark, ask, &wrong).is_err(), "{kds}");
    }
}

#[test]
fn vlek_paths_serve_the_provider_key_of_the_simulated_report() {
    let srv = Server::start("kds-vlek", &[]);
    let dir = tmp("vlek");
    let d = dir.to_str().unwrap();
    cvmsim(&[
        "snp",
        "report",
        "--out",
        d,
        "--product",
        "genoa",
        "--signer",
        "vlek",
    ]);
    let report_bytes = std::fs::read(dir.join("report.bin")).unwrap();
    let report = SevReport::from_bytes(&report_bytes).unwrap();
    let t = &report.reported_tcb;
    let vlek = srv.get_ok(&format!(
        "/vlek/v1/Genoa/cert?blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
        t.bootloader, t.tee, t.snp, t.microcode
    ));
    assert_eq!(vlek, std::fs::read(dir.join("vlek.der")).unwrap());
    let chain = pem_ders(&srv.get_ok("/vlek/v1/Genoa/cert_chain"));
    assert_eq!(chain.len(), 2);
    let v = sim_snp::verify::verify(
        &sim_snp::verify::Evidence {
            report: &report_bytes,
            vek: Some(&vlek),
            ask: Some(&chain[0]),
            ark: Some(&chain[1]),
            crl: None,
            product: None,
        },
        &sim_snp::verify::Policy::default(),
        sim_snp::verify::Options { now: NOW },
    );
    assert!(v.is_valid(), "{}", v.render_human());
    // The ASVK is not the ASK.
    let vcek_chain = pem_ders(&srv.get_ok("/vcek/v1/Genoa/cert_chain"));
    assert_ne!(vcek_chain[0], chain[0]);
    assert_eq!(vcek_chain[1], chain[1]);
}

#[test]
fn chains_and_crls_verify_under_openssl_and_list_revoked_asks() {
    // 0x020002 is Genoa's ASK serial (snp.md §2.1).
    let srv = Server::start("kds-crl", &["--revoke", "020002"]);
    let dir = tmp("crl");
    for kds in ["Milan", "Genoa", "Turin"] {
        let chain = srv.get_ok(&format!("/vcek/v1/{kds}/cert_chain"));
        let ders = pem_ders(&chain);
        let ark = x509_pem(&ders[1]);
        std::fs::write(dir.join("ark.pem"), &ark).unwrap();
        std::fs::write(dir.join("ask.pem"), x509_pem(&ders[0])).unwrap();
        let (ok, out) = openssl(&["verify", "-CAfile", "ark.pem", "ask.pem"], &dir);
        assert!(ok, "{kds}: openssl verify ASK: {out}");
        std::fs::write(
            dir.join("crl.der"),
            srv.get_ok(&format!("/vcek/v1/{kds}/crl")),
        )
        .unwrap();
        let (ok, out) = openssl(
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ark.pem", "-noout", "-text",
            ],
            &dir,
        );
        assert!(ok && out.contains("verify OK"), "{kds}: openssl crl: {out}");
        assert_eq!(
            out.contains("Serial Number: 020002"),
            kds == "Genoa",
            "{kds}: CRL revoked list: {out}"
        );
    }
}

fn x509_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn bad_requests_get_the_kds_status_codes() {
    let srv = Server::start("kds-status", &["--seed", "0"]);
    let dir = tmp("status");
    cvmsim(&[
        "snp",
        "report",
        "--out",
        dir.to_str().unwrap(),
        "--product",
        "genoa",
    ]);
    let report = SevReport::from_bytes(&std::fs::read(dir.join("report.bin")).unwrap()).unwrap();
    let hw = hex::encode(report.chip_id);
    let spl = "blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=84";
    let cases: Vec<(String, u16)> = vec![
        (format!("/vcek/v1/Genoa/{hw}?{spl}"), 200),
        (format!("/vcek/v1/Genoa/{}?{spl}", hw.to_uppercase()), 200),
        (
            format!("/vcek/v1/Genoa/{hw}?blSPL=010&teeSPL=00&snpSPL=23&ucodeSPL=84"),
            200,
        ),
        // unknown product, product case, unknown path
        (format!("/vcek/v1/Venice/{hw}?{spl}"), 404),
        ("/vcek/v1/genoa/cert_chain".into(), 404),
        ("/vcek/v2/Genoa/cert_chain".into(), 404),
        ("/nothing".into(), 404),
        // hwid: wrong length, not hex, Turin length on Genoa
        (format!("/vcek/v1/Genoa/{}?{spl}", &hw[..126]), 400),
        (format!("/vcek/v1/Genoa/{}zz?{spl}", &hw[..126]), 400),
        (format!("/vcek/v1/Genoa/{}?{spl}", &hw[..16]), 400),
        // a well-formed hwid of no simulated chip
        (format!("/vcek/v1/Genoa/{}?{spl}", "0".repeat(128)), 404),
        // SPLs: missing, not decimal, out of range, negative, fmcSPL on Genoa, Turin without fmcSPL
        (
            format!("/vcek/v1/Genoa/{hw}?blSPL=10&teeSPL=0&snpSPL=23"),
            400,
        ),
        (format!("/vcek/v1/Genoa/{hw}"), 400),
        (
            format!("/vcek/v1/Genoa/{hw}?blSPL=0x1&teeSPL=0&snpSPL=23&ucodeSPL=84"),
            400,
        ),
        (
            format!("/vcek/v1/Genoa/{hw}?blSPL=256&teeSPL=0&snpSPL=23&ucodeSPL=84"),
            400,
        ),
        (
            format!("/vcek/v1/Genoa/{hw}?blSPL=-1&teeSPL=0&snpSPL=23&ucodeSPL=84"),
            400,
        ),
        (format!("/vcek/v1/Genoa/{hw}?{spl}&fmcSPL=1"), 400),
        (format!("/vcek/v1/Turin/{}?{spl}", "ab".repeat(8)), 400),
        ("/vlek/v1/Genoa/cert?blSPL=1".into(), 400),
        // wrong method
    ];
    for (path, want) in &cases {
        let (got, body) = srv.get(path);
        assert_eq!(got, *want, "GET {path}: {}", String::from_utf8_lossy(&body));
    }
    let r = serve_common::client()
        .post(format!("{}/vcek/v1/Genoa/cert_chain", srv.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}
