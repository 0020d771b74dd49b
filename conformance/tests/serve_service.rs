//! `cvmsim serve` behaves as a service: malformed requests of every kind leave it answering, every
//! request is logged on stderr, SIGTERM and SIGINT stop it cleanly (exit 0), and it refuses to listen
//! anywhere but loopback. Every socket operation has a timeout.

#![allow(clippy::unwrap_used)]

mod serve_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serve_common::Server;

/// Sends `bytes` and reads until the server closes (or 5 s pass). `half_close`: shut the write side
/// at once (the server then may drop the connection without answering, which is allowed).
fn raw(addr: &str, bytes: &[u8], half_close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status_of(resp: &[u8]) -> String {
    String::from_utf8_lossy(resp.get(..12).unwrap_or(resp)).into_owned()
}

#[test]
fn malformed_requests_never_take_the_server_down() {
    let mut srv = Server::start("robust", &[]);
    let addr = srv.url.trim_start_matches("http://").to_string();
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "A".repeat(200_000));
    // An OCSP body above the 64 KiB limit.
    let mut oversized_ocsp =
        b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n"
            .to_vec();
    oversized_ocsp.extend(std::iter::repeat_n(b'a', 70_000));
    let many_headers: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), Some("HTTP/1.1 400")),
        (b"\x00\xff\xfe\r\n\r\n".to_vec(), Some("HTTP/1.1 400")),
        (long_uri.into_bytes(), None),
        (format!("GET / HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(), None),
        (b"GET /vcek/v1/Milan/cert_chain HTTP/1.1\r\nHost: x\r\nX: \xff\xfe\r\n\r\n".to_vec(), None),
        (b"GET /vcek/v1/%ff%fe/cert_chain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some("HTTP/1.1 400")),
        (b"GET /v1/rim/%00%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some("HTTP/1.1 400")),
        (b"GET /vcek/v1/Genoa/00?blSPL=%zz&blSPL=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some("HTTP/1.1 400")),
        (oversized_ocsp, Some("HTTP/1.1 413")),
        (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nab".to_vec(), None),
        (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(), None),
        (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab".to_vec(), None),
        (b"GET /ocsp/!!!notbase64 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some("HTTP/1.1 200")),
        (b"PUT /admin/revoked/%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some("HTTP/1.1 400")),
        (b"GET / HTTP/9.9\r\n\r\n".to_vec(), None),
        (Vec::new(), None),
    ];
    for (req, want) in &cases {
        let resp = raw(&addr, req, want.is_none());
        if let Some(w) = want {
            assert!(
                status_of(&resp).starts_with(w),
                "{:?}: got {:?}",
                String::from_utf8_lossy(&req[..req.len().min(60)]),
                status_of(&resp)
            );
        }
        assert!(srv.child.try_wait().unwrap().is_none(), "the server exited");
    }
    // Connections opened and dropped at once, and half-sent requests.
    for i in 0..50 {
        let mut s = TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /vcek/v1/Mil");
        }
    }
    let body = srv.get_ok("/vcek/v1/Milan/cert_chain");
    assert!(body.starts_with(b"-----BEGIN CERTIFICATE-----"));
    assert!(srv.stop_with("TERM").success());
}

#[test]
fn requests_are_logged_and_sigterm_and_sigint_stop_it_cleanly() {
    for sig in ["TERM", "INT"] {
        let mut srv = Server::start(&format!("signal-{sig}"), &[]);
        assert_eq!(srv.get("/vcek/v1/Turin/cert_chain").0, 200);
        assert_eq!(srv.get("/vcek/v1/Nowhere/cert_chain").0, 404);
        let t = Instant::now();
        let st = srv.stop_with(sig);
        assert!(st.success(), "SIG{sig}: exit {st:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        let log = std::fs::read_to_string(&srv.log).unwrap();
        assert!(log.contains("GET /vcek/v1/Turin/cert_chain 200"), "{log}");
        assert!(log.contains("GET /vcek/v1/Nowhere/cert_chain 404"), "{log}");
        assert!(log.contains("shut down"), "{log}");
    }
}

#[test]
fn only_loopback_addresses_are_served() {
    for addr in ["0.0.0.0:0", "192.0.2.1:8080"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cvmsim"))
            .args(["serve", "--addr", addr])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let st = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("cvmsim serve --addr {addr} did not refuse");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(st.code(), Some(2), "{addr}");
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(err.contains("loopback"), "{err}");
    }
}

#[test]
fn a_client_stalled_mid_request_does_not_block_shutdown() {
    let mut srv = Server::start("stalled", &[]);
    let addr = srv.url.trim_start_matches("http://").to_string();
    // Promises a body it never sends, and keeps the connection open.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert!(srv.stop_with("TERM").success());
    assert!(t.elapsed() < Duration::from_secs(9), "{:?}", t.elapsed());
    drop(s);
}
