//! An independent SEV-SNP verifier for `cvmsim conformance score`: the `sev` crate (virtee, 8.x,
//! `crypto_nossl`) parses the report and verifies ARK → ASK → VEK and the report signature; the case's
//! `policy.json` is applied to the fields the crate parsed. Exit 0 accepts the folder.
//!
//! `cargo build -p conformance --example sev_verifier &&
//!  cvmsim conformance score --platform snp --verifier 'target/debug/examples/sev_verifier {}'`

#![allow(clippy::unwrap_used, missing_docs, dead_code)]

use std::path::Path;

use sev::certs::snp::{Certificate, Chain, Verifiable};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;

fn read(dir: &Path, names: &[&str]) -> Option<Vec<u8>> {
    names.iter().find_map(|n| std::fs::read(dir.join(n)).ok())
}

fn cert(bytes: &[u8]) -> Result<Certificate, String> {
    if bytes.starts_with(b"-----") {
        Certificate::from_pem(bytes).map_err(|e| e.to_string())
    } else {
        Certificate::from_der(bytes).map_err(|e| e.to_string())
    }
}

/// Verifies one case folder.
pub fn verify_dir(dir: &Path) -> Result<(), String> {
    let report = read(dir, &["report.bin"]).ok_or("no report.bin")?;
    let report = AttestationReport::from_bytes(&report).map_err(|e| format!("parse: {e}"))?;
    let vek = cert(&read(dir, &["vcek.der", "vlek.der", "vcek.pem"]).ok_or("no VEK")?)?;
    let ask = cert(&read(dir, &["ask.pem", "asvk.pem"]).ok_or("no ASK")?)?;
    let ark = cert(&read(dir, &["ark.pem"]).ok_or("no ARK")?)?;
    let chain = Chain {
        ca: sev::certs::snp::ca::Chain { ark, ask },
        vek,
    };
    (&chain, &report)
        .verify()
        .map_err(|e| format!("verify: {e}"))?;
    if let Some(p) = read(dir, &["policy.json"]) {
        let p: serde_json::Value = serde_json::from_slice(&p).map_err(|e| e.to_string())?;
        let hexeq = |key: &str, field: &[u8]| -> Result<(), String> {
            match p.get(key).and_then(|v| v.as_str()) {
                Some(h) => {
                    let mut want = hex::decode(h).map_err(|e| e.to_string())?;
                    want.resize(field.len(), 0);
                    if want == field {
                        Ok(())
                    } else {
                        Err(format!("{key} differs"))
                    }
                }
                None => Ok(()),
            }
        };
        if p.get("deny_debug").and_then(|v| v.as_bool()) == Some(true)
            && report.policy.debug_allowed()
        {
            return Err("debug allowed".into());
        }
        hexeq("measurement", &report.measurement)?;
        hexeq("report_data", &report.report_data)?;
        hexeq("host_data", &report.host_data)?;
        if let Some(v) = p.get("vmpl").and_then(|v| v.as_u64()) {
            if u64::from(report.vmpl) != v {
                return Err("vmpl differs".into());
            }
        }
        if let Some(bits) = p.get("require_platform_info").and_then(|v| v.as_str()) {
            let bits = u64::from_str_radix(bits, 16).map_err(|e| e.to_string())?;
            if u64::from(report.plat_info) & bits != bits {
                return Err("platform info bits missing".into());
            }
        }
        if let Some(t) = p.get("min_tcb").and_then(|v| v.as_str()) {
            let r = &report.reported_tcb;
            for part in t.split(',') {
                let (k, v) = part.split_once('=').ok_or("min_tcb")?;
                let v: u8 = v.parse().map_err(|_| "min_tcb")?;
                let have = match k {
                    "bl" => r.bootloader,
                    "tee" => r.tee,
                    "snp" => r.snp,
                    "ucode" => r.microcode,
                    "fmc" => r.fmc.unwrap_or(0),
                    _ => return Err(format!("min_tcb component {k}")),
                };
                if have < v {
                    return Err(format!("{k} below minimum"));
                }
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: sev_verifier DIR");
        return std::process::ExitCode::from(2);
    };
    match verify_dir(Path::new(&dir)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
