//! `cvmsim serve` as NVIDIA's RIM service and OCSP responder: the RIMs it serves are byte-identical to
//! `cvmsim gpu evidence`'s and verify the evidence; OpenSSL's OCSP client (an independent RFC 6960
//! implementation) accepts its answers for the device and RIM chains with the nonce echoed, sees
//! revocations set and cleared over the admin route, and gets RFC 6960 error statuses for bad requests.
//! NVIDIA's own verifier against these routes: `scripts/gpu-nvidia-verifier.sh`.

#![allow(clippy::unwrap_used)]

mod serve_common;

use std::path::Path;

use base64::Engine;
use serve_common::{client, cvmsim, openssl, pem_ders, tmp, Server};

const NONCE: &str = "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e";

fn pem(der: &[u8]) -> String {
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

/// Evidence of seed 1 on non-default firmware; writes ak/ik/l3/l2/l1.pem beside it.
fn evidence(name: &str, extra: &[&str]) -> std::path::PathBuf {
    let dir = tmp(name);
    let mut args = vec![
        "gpu",
        "evidence",
        "--out",
        dir.to_str().unwrap(),
        "--nonce",
        NONCE,
        "--seed",
        "1",
        "--driver",
        "580.95.05",
        "--vbios",
        "96.00.74.00.1A",
    ];
    args.extend(extra);
    cvmsim(&args);
    let chain = pem_ders(&std::fs::read(dir.join("certchain.pem")).unwrap());
    assert_eq!(chain.len(), 5);
    for (n, der) in ["ak", "ik", "l3", "l2", "l1"].iter().zip(&chain) {
        std::fs::write(dir.join(format!("{n}.pem")), pem(der)).unwrap();
    }
    std::fs::write(dir.join("l3l2.pem"), pem(&chain[2]) + &pem(&chain[3])).unwrap();
    std::fs::write(dir.join("l2only.pem"), pem(&chain[3])).unwrap();
    dir
}

#[test]
fn rim_service_serves_the_evidence_rims_and_they_verify_it() {
    let srv = Server::start("rim", &["--seed", "1"]);
    let dir = evidence("rim", &[]);
    let served = tmp("rim-served");
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir.join("rims")).unwrap() {
        let p = e.unwrap().path();
        let id = p.file_stem().unwrap().to_str().unwrap().to_string();
        let body: serde_json::Value =
            serde_json::from_slice(&srv.get_ok(&format!("/v1/rim/{id}"))).unwrap();
        assert_eq!(body["id"], id.as_str());
        let xml = base64::engine::general_purpose::STANDARD
            .decode(body["rim"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            xml,
            std::fs::read(&p).unwrap(),
            "{id}: served RIM differs from the evidence's"
        );
        std::fs::write(served.join(format!("{id}.xml")), xml).unwrap();
        ids.push(id);
    }
    assert_eq!(ids.len(), 2, "a driver and a VBIOS RIM");
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cvmsim"))
        .args([
            "gpu",
            "verify",
            "--report",
            &d("report.bin"),
            "--certchain",
            &d("certchain.pem"),
        ])
        .args([
            "--root",
            &d("root_ca.pem"),
            "--rims",
            served.to_str().unwrap(),
        ])
        .args(["--rim-root", &d("rim_root_ca.pem"), "--nonce", NONCE])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    for bad in [
        "NV_GPU_DRIVER_GH100_",
        "NV_GPU_DRIVER_GH100_abc",
        "NV_GPU_VBIOS_1010_0200_882_96005E00",
        "NV_GPU_VBIOS_1010_0200_96005E0001",
        "SOMETHING",
    ] {
        let (s, body) = srv.get(&format!("/v1/rim/{bad}"));
        assert_eq!(s, 404, "{bad}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"].is_string());
    }
    let listed: serde_json::Value = serde_json::from_slice(&srv.get_ok("/v1/rim/ids")).unwrap();
    assert!(listed["ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i == "NV_GPU_DRIVER_GH100_550.90.07"));
}

#[test]
fn rims_folder_overrides_the_derived_rims() {
    let dir = evidence("rim-tampered", &["--tamper", "rim-hash"]);
    let rims = dir.join("rims");
    let srv = Server::start("rim-override", &["--rims", rims.to_str().unwrap()]);
    let plain = Server::start("rim-plain", &[]);
    let id = "NV_GPU_DRIVER_GH100_580.95.05";
    let get = |s: &Server| {
        let v: serde_json::Value =
            serde_json::from_slice(&s.get_ok(&format!("/v1/rim/{id}"))).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(v["rim"].as_str().unwrap())
            .unwrap()
    };
    let tampered = get(&srv);
    assert_eq!(
        tampered,
        std::fs::read(rims.join(format!("{id}.xml"))).unwrap()
    );
    assert_ne!(tampered, get(&plain));
}

/// `openssl ocsp` for `cert` issued by `issuer`, trusting `l1.pem`; returns its output.
fn ocsp(url: &str, dir: &Path, issuer: &str, cert: &str, extra: &[&str]) -> String {
    let (_, out) = openssl(
        &[
            &["ocsp", "-url", &format!("{url}/ocsp"), "-issuer", issuer][..],
            extra, // a CertID digest must come before -cert
            &[
                "-cert",
                cert,
                "-CAfile",
                "l1.pem",
                "-verify_other",
                "l3l2.pem",
                "-timeout",
                "20",
            ],
        ]
        .concat(),
        dir,
    );
    out
}

#[test]
fn openssl_ocsp_client_accepts_answers_for_device_and_rim_chains() {
    let srv = Server::start("ocsp", &["--seed", "1"]);
    let dir = evidence("ocsp", &[]);
    // Device chain: IK (issuer L3), L3 (issuer L2) with NVIDIA's SHA-384 CertID, L2 (issuer L1).
    for (issuer, cert, extra) in [
        ("l3.pem", "ik.pem", &[][..]),
        ("l2only.pem", "l3.pem", &["-sha384"][..]),
        ("l1.pem", "l2only.pem", &["-sha256"][..]),
        ("ik.pem", "ak.pem", &[][..]),
    ] {
        let out = ocsp(
            &srv.url,
            &dir,
            issuer,
            cert,
            &[extra, &["-resp_text"]].concat(),
        );
        assert!(out.contains("Response verify OK"), "{cert}: {out}");
        assert!(
            out.contains("OCSP Nonce"),
            "{cert}: no nonce in the response: {out}"
        );
        assert!(out.contains(&format!("{cert}: good")), "{cert}: {out}");
        // OpenSSL sends a nonce and warns when the answer does not echo it.
        assert!(!out.contains("WARNING"), "{cert}: {out}");
    }
    // RIM chain: signer (issuer RIM L3), L3 (issuer RIM CA), CA (issuer root).
    let rim = sim_gpu::pki::RimPki::new().unwrap();
    std::fs::write(dir.join("rim-signer.pem"), pem(&rim.signer.cert)).unwrap();
    std::fs::write(dir.join("rim-l3.pem"), pem(&rim.l3.cert)).unwrap();
    std::fs::write(dir.join("rim-ca.pem"), pem(&rim.ca.cert)).unwrap();
    std::fs::write(dir.join("rim-root.pem"), pem(&rim.root.cert)).unwrap();
    std::fs::write(
        dir.join("rim-mid.pem"),
        pem(&rim.l3.cert) + &pem(&rim.ca.cert),
    )
    .unwrap();
    for (issuer, cert) in [
        ("rim-l3.pem", "rim-signer.pem"),
        ("rim-ca.pem", "rim-l3.pem"),
        ("rim-root.pem", "rim-ca.pem"),
    ] {
        let (_, out) = openssl(
            &[
                "ocsp",
                "-url",
                &format!("{}/ocsp", srv.url),
                "-issuer",
                issuer,
                "-cert",
                cert,
                "-CAfile",
                "rim-root.pem",
                "-verify_other",
                "rim-mid.pem",
                "-timeout",
                "20",
            ],
            &dir,
        );
        assert!(
            out.contains("Response verify OK") && out.contains(&format!("{cert}: good")),
            "{cert}: {out}"
        );
        assert!(!out.contains("WARNING"), "{cert}: {out}");
    }
}

#[test]
fn revocation_set_and_cleared_over_the_admin_route() {
    let srv = Server::start("ocsp-revoke", &["--seed", "1", "--revoke", "device-l3"]);
    let dir = evidence("ocsp-revoke", &[]);
    let out = ocsp(&srv.url, &dir, "l2only.pem", "l3.pem", &[]);
    assert!(
        out.contains("l3.pem: revoked") && out.contains("Reason: keyCompromise"),
        "{out}"
    );

    let c = client();
    let st = |r: reqwest::blocking::Response| r.status().as_u16();
    assert_eq!(
        st(c.put(format!("{}/admin/revoked/ik-1?reason=hold", srv.url))
            .send()
            .unwrap()),
        204
    );
    let out = ocsp(&srv.url, &dir, "l3.pem", "ik.pem", &[]);
    assert!(
        out.contains("ik.pem: revoked") && out.contains("certificateHold"),
        "{out}"
    );
    let listed: serde_json::Value = serde_json::from_slice(&srv.get_ok("/admin/revoked")).unwrap();
    assert_eq!(listed["revoked"].as_array().unwrap().len(), 2);

    assert_eq!(
        st(c.delete(format!("{}/admin/revoked/ik-1", srv.url))
            .send()
            .unwrap()),
        204
    );
    assert_eq!(
        st(c.delete(format!("{}/admin/revoked/device-l3", srv.url))
            .send()
            .unwrap()),
        204
    );
    assert_eq!(
        st(c.delete(format!("{}/admin/revoked/device-l3", srv.url))
            .send()
            .unwrap()),
        404
    );
    assert_eq!(
        st(c.put(format!("{}/admin/revoked/not-a-serial", srv.url))
            .send()
            .unwrap()),
        400
    );
    let out = ocsp(&srv.url, &dir, "l3.pem", "ik.pem", &[]);
    assert!(out.contains("ik.pem: good"), "{out}");
    let out = ocsp(&srv.url, &dir, "l2only.pem", "l3.pem", &[]);
    assert!(out.contains("l3.pem: good"), "{out}");
}

#[test]
fn bad_ocsp_requests_get_rfc6960_error_statuses() {
    let srv = Server::start("ocsp-bad", &["--seed", "1"]);
    let dir = evidence("ocsp-bad", &[]);
    // An issuer that is no simulated CA (the AK issues nothing): unauthorized (6).
    let out = ocsp(&srv.url, &dir, "ak.pem", "ik.pem", &[]);
    assert!(out.contains("unauthorized (6)"), "{out}");
    // Not DER: HTTP 200 with OCSPResponse { responseStatus malformedRequest (1) } = 30 03 0A 01 01.
    let c = client();
    for body in [
        &b"not an OCSP request"[..],
        &[0x30, 0x82, 0xff, 0xff][..],
        &[][..],
    ] {
        let r = c
            .post(format!("{}/ocsp", srv.url))
            .header("content-type", "application/ocsp-request")
            .body(body.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "application/ocsp-response");
        assert_eq!(r.bytes().unwrap().as_ref(), [0x30, 0x03, 0x0a, 0x01, 0x01]);
    }
    // GET form (RFC 6960 A.1) with a request OpenSSL wrote: the same answer as POST.
    let (ok, out) = openssl(
        &[
            "ocsp",
            "-issuer",
            "l3.pem",
            "-cert",
            "ik.pem",
            "-reqout",
            "req.der",
            "-no_nonce",
        ],
        &dir,
    );
    assert!(ok, "{out}");
    let req = std::fs::read(dir.join("req.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let enc: String = b64
        .chars()
        .map(|ch| match ch {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    std::fs::write(dir.join("resp.der"), srv.get_ok(&format!("/ocsp/{enc}"))).unwrap();
    let (_, out) = openssl(
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "l3.pem",
            "-cert",
            "ik.pem",
            "-CAfile",
            "l1.pem",
            "-verify_other",
            "l3l2.pem",
            "-no_nonce",
        ],
        &dir,
    );
    assert!(
        out.contains("Response verify OK") && out.contains("ik.pem: good"),
        "{out}"
    );
}

#[test]
fn with_now_ocsp_answers_are_dated_then_and_deterministic() {
    let dir = evidence("ocsp-now", &[]);
    let (ok, out) = openssl(
        &[
            "ocsp",
            "-issuer",
            "l3.pem",
            "-cert",
            "ik.pem",
            "-reqout",
            "req.der",
            "-no_nonce",
        ],
        &dir,
    );
    assert!(ok, "{out}");
    let req = std::fs::read(dir.join("req.der")).unwrap();
    let now = ["--seed", "1", "--now", "2026-03-04T05:06:07Z"];
    let answers: Vec<Vec<u8>> = ["ocsp-now-a", "ocsp-now-b"]
        .iter()
        .map(|n| {
            let srv = Server::start(n, &now);
            let r = client()
                .post(format!("{}/", srv.url))
                .header("content-type", "application/ocsp-request")
                .body(req.clone())
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.bytes().unwrap().to_vec()
        })
        .collect();
    assert_eq!(
        answers[0], answers[1],
        "same seed, time and request: same bytes"
    );
    std::fs::write(dir.join("resp.der"), &answers[0]).unwrap();
    let (_, out) = openssl(
        &["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"],
        &dir,
    );
    assert!(
        out.contains("Produced At: Mar  4 05:06:07 2026 GMT"),
        "{out}"
    );
    assert!(
        out.contains("Next Update: Mar  5 05:06:07 2026 GMT"),
        "{out}"
    );
}
