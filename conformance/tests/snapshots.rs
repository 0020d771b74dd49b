//! insta snapshots of the parsed form of every binary catalogue vector, one snapshot per platform, so a
//! change in any parser or generator shows up as a reviewed diff. (The real captures are snapshotted in
//! full by each model crate's `show` tests.)

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

const CATALOGUE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/catalogue");

fn cases(platform: &str) -> Vec<(String, std::path::PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(Path::new(CATALOGUE).join(platform))
        .unwrap()
        .flatten()
        .map(|e| {
            let m: Value =
                serde_json::from_slice(&std::fs::read(e.path().join("manifest.json")).unwrap())
                    .unwrap();
            (m["id"].as_str().unwrap().to_string(), e.path())
        })
        .collect();
    out.sort();
    out
}

fn err(e: impl std::fmt::Display) -> Value {
    json!({ "parse_error": e.to_string() })
}

#[test]
fn snp_vectors_parse_as_snapshotted() {
    let mut all = BTreeMap::new();
    for (id, dir) in cases("snp") {
        let bytes = std::fs::read(dir.join("report.bin")).unwrap();
        let v = match sim_snp::report::AttestationReport::parse(&bytes) {
            Ok(r) => {
                let j = r.to_json(None);
                json!({
                    "version": j["version"], "product": j["product"], "policy": j["policy"]["raw"], "vmpl": j["vmpl"],
                    "signing_key": j["key_info"]["signing_key"], "platform_info": j["platform_info"]["raw"],
                    "reported_tcb": j["reported_tcb"]["raw"], "measurement": j["measurement"].as_str().map(|m| &m[..16]),
                    "chip_id": j["chip_id"].as_str().map(|m| &m[..16]),
                })
            }
            Err(e) => err(e),
        };
        all.insert(id, v);
    }
    insta::assert_json_snapshot!("catalogue_snp", all);
}

#[test]
fn tdx_vectors_parse_as_snapshotted() {
    let mut all = BTreeMap::new();
    for (id, dir) in cases("tdx") {
        let bytes = std::fs::read(dir.join("quote.bin")).unwrap();
        let v = match sim_tdx::quote::Quote::parse(&bytes) {
            Ok(q) => {
                let b = q.body.base();
                json!({
                    "version": q.version(), "body_type": q.body.body_type(), "mrtd": hex::encode(&b.mrtd[..8]),
                    "td_attributes": format!("{:016x}", b.td_attributes.get()), "tee_tcb_svn": hex::encode(b.tee_tcb_svn),
                    "report_data": hex::encode(&b.report_data[..16]), "length": bytes.len(),
                })
            }
            Err(e) => err(e),
        };
        all.insert(id, v);
    }
    insta::assert_json_snapshot!("catalogue_tdx", all);
}

#[test]
fn gpu_vectors_parse_as_snapshotted() {
    let mut all = BTreeMap::new();
    for (id, dir) in cases("gpu") {
        let bytes = std::fs::read(dir.join("report.bin")).unwrap();
        let v = match sim_gpu::layout::Report::parse(&bytes) {
            Ok(r) => {
                let o = &r.response.opaque;
                let (driver_rim, vbios_rim) = sim_gpu::rim::rim_ids(&r);
                json!({
                    "blocks": r.response.blocks.len(), "driver": o.driver_version(), "vbios": o.vbios_version(),
                    "driver_rim": driver_rim, "vbios_rim": vbios_rim, "trailing": r.trailing.len(), "length": bytes.len(),
                })
            }
            Err(e) => err(e),
        };
        all.insert(id, v);
    }
    insta::assert_json_snapshot!("catalogue_gpu", all);
}
