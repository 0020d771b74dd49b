//! An independent TDX verifier for `cvmsim conformance score`: dcap-qvl 0.7 (`QuoteVerifier::new` with
//! the folder's `root_ca.der`) verifies the quote against `collateral.json` at the system clock; the
//! case's `policy.json` is applied to the report dcap-qvl returns. Exit 0 accepts the folder.
//!
//! `cargo build -p conformance --example dcap_qvl_verifier &&
//!  cvmsim conformance score --platform tdx --verifier 'target/debug/examples/dcap_qvl_verifier {}'`

#![allow(clippy::unwrap_used, missing_docs, dead_code)]

use std::path::Path;

/// Verifies one case folder at `now` (Unix seconds).
pub fn verify_dir_at(dir: &Path, now: u64) -> Result<(), String> {
    let quote = std::fs::read(dir.join("quote.bin")).map_err(|e| format!("quote.bin: {e}"))?;
    let coll =
        std::fs::read(dir.join("collateral.json")).map_err(|e| format!("collateral.json: {e}"))?;
    let coll: dcap_qvl::QuoteCollateralV3 =
        serde_json::from_slice(&coll).map_err(|e| format!("collateral.json: {e}"))?;
    let root = std::fs::read(dir.join("root_ca.der")).map_err(|e| format!("root_ca.der: {e}"))?;
    let r = dcap_qvl::verify::QuoteVerifier::new(root)
        .verify(&quote, &coll, now)
        .map_err(|e| format!("dcap-qvl: {e:?}"))?;
    let td = r.report.as_td10().ok_or("not a TD report")?;
    if let Ok(p) = std::fs::read(dir.join("policy.json")) {
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
            && td.td_attributes[0] & 1 != 0
        {
            return Err("debug TD".into());
        }
        if p.get("require_sept_ve_disable").and_then(|v| v.as_bool()) == Some(true)
            && td.td_attributes[3] & 0x10 == 0
        {
            return Err("SEPT_VE_DISABLE clear".into());
        }
        hexeq("mrtd", &td.mr_td)?;
        hexeq("report_data", &td.report_data)?;
        hexeq("rtmr0", &td.rt_mr0)?;
        hexeq("rtmr1", &td.rt_mr1)?;
        hexeq("rtmr2", &td.rt_mr2)?;
        hexeq("rtmr3", &td.rt_mr3)?;
        if let Some(list) = p.get("allowed_status").and_then(|v| v.as_array()) {
            if !list.iter().any(|s| s.as_str() == Some(r.status.as_str())) {
                return Err(format!("status {} not allowed", r.status));
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: dcap_qvl_verifier DIR");
        return std::process::ExitCode::from(2);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match verify_dir_at(Path::new(&dir), now) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
