//! `cvmsim serve` as Intel's PCS v4: collateral fetched the way dcap-qvl 0.7's `CollateralClient`
//! fetches it (same URLs, headers and decoding, read from its `collateral.rs`) is byte-identical to the
//! `collateral.json` of `cvmsim tdx quote` and verifies the simulated quote in dcap-qvl; a revoked PCK
//! makes dcap-qvl reject it; OpenSSL verifies the CRLs; bad requests get PCS status codes.
//!
//! dcap-qvl's own fetcher (feature `report`) is not used: it turns on dcap-qvl's `std` feature, which
//! switches on `serde_json/preserve_order` for every crate of a workspace test build, and pulls a
//! second TLS HTTP stack.

#![allow(clippy::unwrap_used)]

mod serve_common;

use serve_common::{cvmsim, openssl, tmp, Server};

const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn get(srv: &Server, path: &str) -> reqwest::blocking::Response {
    let r = serve_common::client()
        .get(format!("{}{path}", srv.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "GET {path}");
    r
}

fn header(r: &reqwest::blocking::Response, name: &str) -> String {
    url_decode(
        r.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap(),
    )
}

/// `{"<key>":<raw>,"signature":"<hex>"}` → (raw, signature hex), without re-serialising.
fn split(body: &str, key: &str) -> (String, String) {
    let rest = body.strip_prefix(&format!("{{\"{key}\":")).unwrap();
    let at = rest.rfind(",\"signature\":\"").unwrap();
    let sig = rest[at + 14..].strip_suffix("\"}").unwrap();
    (rest[..at].to_string(), sig.to_string())
}

/// dcap-qvl's `CollateralClient::fetch` against `srv`: PCK chain from the quote, FMSPC and CA type
/// from the PCK certificate, then pckcrl, tcb, qe/identity and (not a PCS URL) rootcacrl as hex.
fn fetch(srv: &Server, quote: &[u8]) -> dcap_qvl::QuoteCollateralV3 {
    let q = dcap_qvl::quote::Quote::parse(quote).unwrap();
    let pck_chain = String::from_utf8_lossy(q.raw_cert_chain().unwrap()).to_string();
    let ext = dcap_qvl::intel::parse_pck_extension_from_pem(pck_chain.as_bytes()).unwrap();
    let fmspc = hex::encode_upper(ext.fmspc);
    let r = get(srv, "/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
    let pck_crl_issuer_chain = header(&r, "SGX-PCK-CRL-Issuer-Chain");
    let pck_crl = r.bytes().unwrap().to_vec();
    let r = get(
        srv,
        &format!("/tdx/certification/v4/tcb?fmspc={fmspc}&update=standard"),
    );
    let tcb_info_issuer_chain = header(&r, "TCB-Info-Issuer-Chain");
    let (tcb_info, tcb_sig) = split(&r.text().unwrap(), "tcbInfo");
    let r = get(srv, "/tdx/certification/v4/qe/identity?update=standard");
    let qe_identity_issuer_chain = header(&r, "SGX-Enclave-Identity-Issuer-Chain");
    let (qe_identity, qe_sig) = split(&r.text().unwrap(), "enclaveIdentity");
    let root_ca_crl =
        hex::decode(get(srv, "/sgx/certification/v4/rootcacrl").text().unwrap()).unwrap();
    dcap_qvl::QuoteCollateralV3 {
        pck_crl_issuer_chain,
        root_ca_crl,
        pck_crl,
        tcb_info_issuer_chain,
        tcb_info,
        tcb_info_signature: hex::decode(tcb_sig).unwrap(),
        qe_identity_issuer_chain,
        qe_identity,
        qe_identity_signature: hex::decode(qe_sig).unwrap(),
        pck_certificate_chain: Some(pck_chain),
    }
}

fn quote_dir(name: &str, extra: &[&str]) -> std::path::PathBuf {
    let dir = tmp(name);
    let mut args = vec![
        "tdx",
        "quote",
        "--out",
        dir.to_str().unwrap(),
        "--seed",
        "4",
    ];
    args.extend(extra);
    cvmsim(&args);
    dir
}

#[test]
fn collateral_fetched_like_dcap_qvl_is_collateral_json_and_verifies_the_quote() {
    let srv = Server::start("pcs", &["--seed", "4"]);
    let dir = quote_dir("pcs", &[]);
    let quote = std::fs::read(dir.join("quote.bin")).unwrap();
    let root = std::fs::read(dir.join("root_ca.der")).unwrap();
    let c = fetch(&srv, &quote);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("collateral.json")).unwrap()).unwrap();
    let s = |k: &str| j[k].as_str().unwrap().to_string();
    assert_eq!(c.tcb_info, s("tcb_info"));
    assert_eq!(hex::encode(&c.tcb_info_signature), s("tcb_info_signature"));
    assert_eq!(c.qe_identity, s("qe_identity"));
    assert_eq!(
        hex::encode(&c.qe_identity_signature),
        s("qe_identity_signature")
    );
    assert_eq!(hex::encode(&c.pck_crl), s("pck_crl"));
    assert_eq!(hex::encode(&c.root_ca_crl), s("root_ca_crl"));
    assert_eq!(c.pck_crl_issuer_chain, s("pck_crl_issuer_chain"));
    assert_eq!(c.tcb_info_issuer_chain, s("tcb_info_issuer_chain"));
    assert_eq!(c.qe_identity_issuer_chain, s("qe_identity_issuer_chain"));
    let r = dcap_qvl::verify::QuoteVerifier::new(root.clone())
        .verify(&quote, &c, NOW)
        .unwrap_or_else(|e| panic!("dcap-qvl rejects: {e:#}"));
    assert_eq!(r.status, "UpToDate");

    // The root CRL and root certificate at Intel's certificate paths; OpenSSL verifies the CRLs.
    assert_eq!(
        get(&srv, "/IntelSGXRootCA.der").bytes().unwrap().to_vec(),
        c.root_ca_crl
    );
    assert_eq!(
        get(&srv, "/Intel_SGX_Provisioning_Certification_RootCA.cer")
            .bytes()
            .unwrap()
            .to_vec(),
        root
    );
    let chain = c.pck_crl_issuer_chain.clone();
    std::fs::write(dir.join("pck-ca-chain.pem"), &chain).unwrap();
    std::fs::write(
        dir.join("pck.crl"),
        get(&srv, "/sgx/certification/v4/pckcrl?ca=platform")
            .bytes()
            .unwrap(),
    )
    .unwrap();
    let (ok, out) = openssl(
        &[
            "crl",
            "-in",
            "pck.crl",
            "-CAfile",
            "pck-ca-chain.pem",
            "-noout",
        ],
        &dir,
    );
    assert!(ok && out.contains("verify OK"), "{out}");
}

#[test]
fn a_revoked_pck_is_on_the_fetched_crl_and_dcap_qvl_rejects_the_quote() {
    let srv = Server::start("pcs-revoked", &["--seed", "4", "--revoke", "pck-4"]);
    let dir = quote_dir("pcs-revoked", &["--revoke-pck"]);
    let quote = std::fs::read(dir.join("quote.bin")).unwrap();
    let root = std::fs::read(dir.join("root_ca.der")).unwrap();
    let c = fetch(&srv, &quote);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("collateral.json")).unwrap()).unwrap();
    assert_eq!(hex::encode(&c.pck_crl), j["pck_crl"].as_str().unwrap());
    let e = dcap_qvl::verify::QuoteVerifier::new(root.clone())
        .verify(&quote, &c, NOW)
        .map(|r| r.status)
        .expect_err("dcap-qvl accepts a quote whose PCK is revoked");
    assert!(format!("{e:#}").to_lowercase().contains("revoked"), "{e:#}");
    // Cleared over the admin route: the next fetch has the PCK off the CRL again and verifies.
    let r = serve_common::client()
        .delete(format!("{}/admin/revoked/pck-4", srv.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let c = fetch(&srv, &quote);
    let r = dcap_qvl::verify::QuoteVerifier::new(root)
        .verify(&quote, &c, NOW)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status, "UpToDate");
}

#[test]
fn bad_pcs_requests_get_pcs_status_codes() {
    let srv = Server::start("pcs-status", &[]);
    let fmspc = "90C06F000000";
    for (path, want) in [
        (format!("/tdx/certification/v4/tcb?fmspc={fmspc}"), 200),
        (
            format!("/tdx/certification/v4/tcb?fmspc={}", fmspc.to_lowercase()),
            200,
        ),
        ("/tdx/certification/v4/tcb".to_string(), 400),
        ("/tdx/certification/v4/tcb?fmspc=90C06F".to_string(), 400),
        (
            "/tdx/certification/v4/tcb?fmspc=zzC06F000000".to_string(),
            400,
        ),
        (
            "/tdx/certification/v4/tcb?fmspc=00606A000000".to_string(),
            404,
        ),
        (
            format!("/tdx/certification/v4/tcb?fmspc={fmspc}&update=sometimes"),
            400,
        ),
        (
            format!("/tdx/certification/v4/tcb?fmspc={fmspc}&tcbEvaluationDataNumber=1"),
            404,
        ),
        (
            "/tdx/certification/v4/qe/identity?update=early".to_string(),
            200,
        ),
        (
            "/tdx/certification/v4/qe/identity?update=x".to_string(),
            400,
        ),
        ("/sgx/certification/v4/pckcrl".to_string(), 400),
        ("/sgx/certification/v4/pckcrl?ca=processor".to_string(), 404),
        ("/sgx/certification/v4/pckcrl?ca=other".to_string(), 400),
        (
            "/sgx/certification/v4/pckcrl?ca=platform&encoding=xml".to_string(),
            400,
        ),
        ("/sgx/certification/v4/pckcert?cpusvn=00".to_string(), 400),
        ("/sgx/certification/v3/pckcrl?ca=platform".to_string(), 404),
    ] {
        let (got, body) = srv.get(&path);
        assert_eq!(got, want, "GET {path}: {}", String::from_utf8_lossy(&body));
    }
    let pem = srv.get_ok("/sgx/certification/v4/pckcrl?ca=platform");
    assert!(pem.starts_with(b"-----BEGIN X509 CRL-----"));
}

#[test]
fn pckcert_answers_for_the_simulated_platform_with_the_quote_pck() {
    let srv = Server::start("pcs-pckcert", &["--seed", "4"]);
    let dir = quote_dir("pcs-pckcert", &[]);
    let quote = std::fs::read(dir.join("quote.bin")).unwrap();
    let q = dcap_qvl::quote::Quote::parse(&quote).unwrap();
    let chain = String::from_utf8_lossy(q.raw_cert_chain().unwrap()).to_string();
    let ext = dcap_qvl::intel::parse_pck_extension_from_pem(chain.as_bytes()).unwrap();
    // PCS parameters: CPUSVN 16 bytes hex, PCESVN 2 bytes little-endian hex, PCEID 2 bytes hex.
    let path = format!(
        "/sgx/certification/v4/pckcert?encrypted_ppid={}&cpusvn={}&pcesvn={}&pceid={}",
        "00".repeat(384),
        hex::encode(ext.cpu_svn),
        hex::encode(ext.pce_svn.to_le_bytes()),
        hex::encode(&ext.pce_id)
    );
    let r = get(&srv, &path);
    assert_eq!(header(&r, "SGX-PCK-Certificate-CA-Type"), "platform");
    assert_eq!(header(&r, "SGX-FMSPC"), hex::encode_upper(ext.fmspc));
    let issuer_chain = header(&r, "SGX-PCK-Certificate-Issuer-Chain");
    let pck = r.text().unwrap();
    // The quote carries PCK ‖ PCK CA ‖ root; the service the leaf, and the rest in the header.
    // (the quote's certification data ends in a NUL, as real quotes' do).
    assert_eq!(
        format!("{pck}{issuer_chain}").trim(),
        chain.trim_end_matches('\0').trim()
    );
    let other_tcb = path.replace(&hex::encode(ext.cpu_svn), &"00".repeat(16));
    assert_eq!(srv.get(&other_tcb).0, 404);
}
