//! Rendering a parsed report: NVIDIA's parsed-JSON shape (NVAT `spdm_parsed_output.json`) and a
//! human listing for `cvmsim gpu show`.

use serde_json::{json, Map, Value};

use crate::layout::{OpaqueType, Report};

fn hx(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn hb(b: u8) -> String {
    format!("0x{b:02x}")
}

/// The request in NVAT's parsed shape (`spdm_req_parsed_output.json`).
pub fn request_json(r: &Report) -> Value {
    let q = &r.request;
    json!({
        "SPDMVersion": hb(q.spdm_version),
        "RequestResponseCode": hb(q.request_response_code),
        "Param1": hb(q.param1),
        "Param2": hb(q.param2),
        "Nonce": hx(&q.nonce),
        "SlotIDParam": hb(q.slot_id_param),
    })
}

/// The response in NVAT's parsed shape (`spdm_parsed_output.json`). NVAT renders every opaque field
/// as the hex of its bytes except MSRSCNT (a list of counts). Its golden file has no entry for
/// OPAQUE_DATA_VERSION (34) and FEATURE_FLAG (36); this rendering includes them.
pub fn response_json(r: &Report) -> Value {
    let p = &r.response;
    let rl = u32::from(p.header.measurement_record_length[0])
        | (u32::from(p.header.measurement_record_length[1]) << 8)
        | (u32::from(p.header.measurement_record_length[2]) << 16);
    let mut blocks = Map::new();
    for b in &p.blocks {
        blocks.insert(
            b.index.to_string(),
            json!({
                "DMTFSpecMeasurementValueType": b.value_type,
                "DMTFSpecMeasurementValueSize": b.value.len(),
                "DMTFSpecMeasurementValue": hx(&b.value),
            }),
        );
    }
    let mut opaque = Map::new();
    for f in &p.opaque.fields {
        let v = if f.kind == OpaqueType::MSRSCNT {
            json!(p.opaque.msrscnt().unwrap_or_default())
        } else {
            json!(hx(&f.value))
        };
        opaque.insert(f.kind.nvidia_name(), v);
    }
    json!({
        "SPDMVersion": hb(p.header.spdm_version),
        "RequestResponseCode": hb(p.header.request_response_code),
        "Param1": hb(p.header.param1),
        "Param2": hb(p.header.param2),
        "NumberOfBlocks": p.header.number_of_blocks,
        "MeasurementRecordLength": rl,
        "Nonce": hx(&p.nonce),
        "OpaqueLength": p.opaque_length,
        "Signature": hx(&p.signature),
        "MeasurementRecord": {
            "NumberOfBlocks": p.blocks.len(),
            "MeasurementBlocks": blocks,
        },
        "OpaqueData": { "OpaqueDataField": opaque },
    })
}

/// `show --json`: `{"request": ..., "response": ..., "decoded": {...}, "trailing_bytes": N}`.
pub fn show_json(r: &Report) -> Value {
    let o = &r.response.opaque;
    json!({
        "request": request_json(r),
        "response": response_json(r),
        "decoded": {
            "driver_version": o.driver_version(),
            "vbios_version": o.vbios_version(),
            "project": o.ascii(OpaqueType::PROJECT),
            "project_sku": o.ascii(OpaqueType::PROJECT_SKU),
            "chip_sku": o.ascii(OpaqueType::CHIP_SKU),
            "fwid": o.fwid().map(hex::encode),
            "signature_offset": r.signature_offset,
        },
        "trailing_bytes": r.trailing.len(),
    })
}

/// Human listing: header fields, non-zero measurements, opaque fields.
pub fn show_human(r: &Report) -> String {
    let q = &r.request;
    let p = &r.response;
    let o = &p.opaque;
    let mut s = String::new();
    s.push_str(&format!(
        "GET_MEASUREMENTS  version 0x{:02x} code 0x{:02x} param1 0x{:02x} param2 0x{:02x} slot {}\n",
        q.spdm_version, q.request_response_code, q.param1, q.param2, q.slot_id_param
    ));
    s.push_str(&format!("  nonce           {}\n", hex::encode(q.nonce)));
    s.push_str(&format!(
        "MEASUREMENTS      version 0x{:02x} code 0x{:02x} blocks {}\n",
        p.header.spdm_version,
        p.header.request_response_code,
        p.blocks.len()
    ));
    for b in &p.blocks {
        if b.value.iter().any(|x| *x != 0) {
            s.push_str(&format!("  [{:2}] {}\n", b.index, hex::encode(&b.value)));
        }
    }
    let zero = p
        .blocks
        .iter()
        .filter(|b| b.value.iter().all(|x| *x == 0))
        .count();
    s.push_str(&format!("  ({zero} all-zero blocks not shown)\n"));
    s.push_str(&format!("  responder nonce {}\n", hex::encode(p.nonce)));
    s.push_str(&format!("  opaque data     {} bytes\n", p.opaque_length));
    for f in &o.fields {
        let v = match f.kind {
            OpaqueType::DRIVER_VERSION
            | OpaqueType::CHIP_SKU
            | OpaqueType::CHIP_SKU_MOD
            | OpaqueType::PROJECT
            | OpaqueType::PROJECT_SKU
            | OpaqueType::CHIP_INFO => format!("{:?}", o.ascii(f.kind).unwrap_or_default()),
            OpaqueType::VBIOS_VERSION => o.vbios_version().unwrap_or_default(),
            OpaqueType::MSRSCNT => format!("{:?}", o.msrscnt().unwrap_or_default()),
            _ => hex::encode(&f.value),
        };
        s.push_str(&format!("    {:<38} {}\n", f.kind.nvidia_name(), v));
    }
    s.push_str(&format!(
        "  signature       {} (at offset {})\n",
        hex::encode(&p.signature),
        r.signature_offset
    ));
    if !r.trailing.is_empty() {
        s.push_str(&format!(
            "  TRAILING        {} bytes after the signature: {}\n",
            r.trailing.len(),
            hex::encode(&r.trailing)
        ));
    }
    s
}
