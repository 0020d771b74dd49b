//! A `cvmsim serve` child process on a free loopback port, for the `serve_*` tests: started with
//! `--addr 127.0.0.1:0`, its URL read from its first stdout line (bounded wait), stopped on drop.

#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// HTTP timeout of every test request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cvmsim-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn cvmsim(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_cvmsim"))
        .args(args)
        .output()
        .expect("cvmsim runs");
    assert!(
        o.status.success(),
        "cvmsim {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `cvmsim serve --addr 127.0.0.1:0 ARGS`; its stderr goes to `log`.
    pub fn start(name: &str, args: &[&str]) -> Server {
        let log = tmp(&format!("{name}-log")).join("stderr.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cvmsim"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("cvmsim serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("cvmsim serve printed no URL within 30 s");
            }
        };
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "first line {url:?}; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Server { child, url, log }
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let r = client().get(format!("{}{path}", self.url)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().unwrap().to_vec())
    }

    pub fn get_ok(&self, path: &str) -> Vec<u8> {
        let (s, b) = self.get(path);
        assert_eq!(s, 200, "GET {path}: {}", String::from_utf8_lossy(&b));
        b
    }

    /// Sends `signal` (TERM, INT) and waits up to 10 s for the exit; returns the exit status.
    pub fn stop_with(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        for _ in 0..100 {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("cvmsim serve did not stop within 10 s of SIG{signal}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .no_proxy()
        .build()
        .unwrap()
}

/// PEM certificates of a bundle, DER, in order (parsed here with x509-cert, not the code under test).
pub fn pem_ders(pem: &[u8]) -> Vec<Vec<u8>> {
    use der::Encode;
    x509_cert::Certificate::load_pem_chain(pem)
        .unwrap()
        .iter()
        .map(|c| c.to_der().unwrap())
        .collect()
}

pub fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}
