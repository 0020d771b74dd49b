//! A bounded load test from a second process: `cvmsim-load` sends 10,000 requests over 32 keep-alive
//! connections to `cvmsim serve`, mixing KDS chains, VCEKs, CRLs, RIMs and OCSP (GET form, signed per
//! request); every answer must be 200, and the rate is printed. Time is bounded by the client's
//! `--timeout` and this test's wait; speed itself is not asserted (tests are not benchmarks).

#![allow(clippy::unwrap_used)]

mod serve_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serve_common::{cvmsim, openssl, pem_ders, tmp, Server};

#[test]
fn ten_thousand_requests_over_32_connections_without_an_error() {
    let srv = Server::start("load", &["--seed", "0", "--quiet"]);
    let dir = tmp("load");
    let d = dir.to_str().unwrap();
    cvmsim(&["snp", "report", "--out", d, "--product", "genoa"]);
    let report = std::fs::read(dir.join("report.bin")).unwrap();
    // CHIP_ID @0x1A0 and REPORTED_TCB @0x180 (Genoa: BL @0, TEE @1, SNP @6, MICROCODE @7), snp.md §1.
    let hw = hex::encode(&report[0x1a0..0x1e0]);
    let t = &report[0x180..0x188];
    let vcek = format!(
        "/vcek/v1/Genoa/{hw}?blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
        t[0], t[1], t[6], t[7]
    );
    assert_eq!(srv.get(&vcek).0, 200);
    // An OCSP request for the IK of device 0, written by OpenSSL, sent in the GET form.
    let g = tmp("load-gpu");
    cvmsim(&[
        "gpu",
        "evidence",
        "--out",
        g.to_str().unwrap(),
        "--nonce",
        "00",
    ]);
    let chain = pem_ders(&std::fs::read(g.join("certchain.pem")).unwrap());
    std::fs::write(g.join("ik.der"), &chain[1]).unwrap();
    std::fs::write(g.join("l3.der"), &chain[2]).unwrap();
    for f in ["ik", "l3"] {
        let (ok, out) = openssl(
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                &format!("{f}.der"),
                "-out",
                &format!("{f}.pem"),
            ],
            &g,
        );
        assert!(ok, "{out}");
    }
    let (ok, out) = openssl(
        &[
            "ocsp", "-issuer", "l3.pem", "-cert", "ik.pem", "-reqout", "req.der",
        ],
        &g,
    );
    assert!(ok, "{out}");
    let b64 =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(g.join("req.der")).unwrap());
    let ocsp = format!(
        "/ocsp/{}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    assert_eq!(srv.get(&ocsp).0, 200);

    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvmsim-load"))
        .args([
            "--url",
            &srv.url,
            "--requests",
            "10000",
            "--connections",
            "32",
            "--timeout",
            "45",
        ])
        .args([
            "--get",
            "/vcek/v1/Genoa/cert_chain",
            "--get",
            &vcek,
            "--get",
            "/vcek/v1/Milan/crl",
        ])
        .args([
            "--get",
            "/v1/rim/NV_GPU_DRIVER_GH100_550.90.07",
            "--get",
            &ocsp,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(55) {
            let _ = child.kill();
            panic!("cvmsim-load did not finish in 55 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    println!("cvmsim-load: {doc}");
    assert!(st.success(), "{doc}");
    assert_eq!(doc["ok"], 10_000, "{doc}");
    assert_eq!(doc["errors"], 0, "{doc}");
    assert_eq!(doc["by_status"]["200"], 10_000, "{doc}");
}
