//! `show`: every field of a quote or a TDREPORT as JSON (and as text).

use serde_json::{json, Value};
use sim_core::parse::ParseError;
use zerocopy::IntoBytes;

use crate::layout::TdReport;
use crate::module::check_tdreport;
use crate::quote::Quote;

fn h(b: &[u8]) -> Value {
    Value::String(hex::encode(b))
}

/// `v` with every object's keys in sorted order, whether or not serde_json's `preserve_order` feature is
/// on (a dev-dependency turns it on in test builds), so output is the same in every build.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut items: Vec<(String, Value)> = m.into_iter().collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(items.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Every field of a quote (keys sorted).
pub fn quote_json(q: &Quote) -> Value {
    sorted(quote_json_raw(q))
}

/// Every field of a TDREPORT, with its internal consistency (keys sorted).
pub fn tdreport_json(r: &TdReport) -> Value {
    sorted(tdreport_json_raw(r))
}

fn quote_json_raw(q: &Quote) -> Value {
    let b = q.body.base();
    let mut body = json!({
        "tee_tcb_svn": h(&b.tee_tcb_svn), "mrseam": h(&b.mrseam), "mrsignerseam": h(&b.mrsignerseam),
        "seam_attributes": h(b.seam_attributes.as_bytes()), "td_attributes": h(b.td_attributes.as_bytes()),
        "xfam": h(b.xfam.as_bytes()), "mrtd": h(&b.mrtd), "mrconfigid": h(&b.mrconfigid),
        "mrowner": h(&b.mrowner), "mrownerconfig": h(&b.mrownerconfig),
        "rtmr": b.rtmr.iter().map(|r| h(r)).collect::<Vec<_>>(), "report_data": h(&b.report_data),
    });
    if let (Some(t), Value::Object(m)) = (q.body.td15(), &mut body) {
        m.insert("tee_tcb_svn2".into(), h(&t.tee_tcb_svn2));
        m.insert("mrservicetd".into(), h(&t.mrservicetd));
    }
    if let (crate::quote::TdBody::Td15Ex(x), Value::Object(m)) = (&q.body, &mut body) {
        m.insert("vm_id".into(), x.vm_id.into());
        m.insert("td_id".into(), h(&x.td_id));
        m.insert("dev_info_hash".into(), h(&x.dev_info_hash));
        m.insert("init_servtd_hash".into(), h(&x.init_servtd_hash));
        m.insert(
            "init_servtd_attributes".into(),
            h(x.init_servtd_attributes.as_bytes()),
        );
        m.insert("init_cpusvn".into(), h(&x.init_cpusvn));
        m.insert("init_tee_tcb_svn".into(), h(&x.init_tee_tcb_svn));
        m.insert("init_tee_fmspc".into(), h(&x.init_tee_fmspc));
        m.insert("cur_servtd_hash".into(), h(&x.cur_servtd_hash));
        m.insert(
            "cur_servtd_attributes".into(),
            h(x.cur_servtd_attributes.as_bytes()),
        );
    }
    let r = &q.cert.qe_report;
    let certs: Vec<Value> = crate::verify::pck_chain_der(q)
        .iter()
        .filter_map(|d| {
            use der::Decode;
            x509_cert::Certificate::from_der(d).ok().map(|c| {
                json!({
                    "subject": c.tbs_certificate.subject.to_string(),
                    "issuer": c.tbs_certificate.issuer.to_string(),
                    "not_before": sim_core::time::to_rfc3339(sim_core::x509::unix(&c.tbs_certificate.validity.not_before)),
                    "not_after": sim_core::time::to_rfc3339(sim_core::x509::unix(&c.tbs_certificate.validity.not_after)),
                })
            })
        })
        .collect();
    json!({
        "header": {
            "version": q.header.version.get(), "att_key_type": q.header.att_key_type.get(),
            "tee_type": format!("0x{:x}", q.header.tee_type.get()), "reserved": h(&q.header.reserved),
            "qe_vendor_id": h(&q.header.qe_vendor_id), "user_data": h(&q.header.user_data),
        },
        "body_type": q.body.body_type(),
        "body_size": q.body.as_bytes().len(),
        "td_report": body,
        "signed_len": q.signed_len(),
        "signature": h(&q.signature),
        "attestation_key": h(&q.attestation_key),
        "qe_report": {
            "cpusvn": h(&r.cpusvn), "miscselect": r.miscselect.get(), "attributes": h(&r.attributes),
            "mrenclave": h(&r.mrenclave), "mrsigner": h(&r.mrsigner), "isvprodid": r.isvprodid.get(),
            "isvsvn": r.isvsvn.get(), "report_data": h(&r.report_data),
        },
        "qe_report_signature": h(&q.cert.qe_report_signature),
        "qe_auth_data": h(&q.cert.qe_auth_data),
        "pck_cert_chain": certs,
        "trailing_bytes": q.trailing.len(),
        "trailing_all_zero": q.trailing.iter().all(|b| *b == 0),
    })
}

fn tdreport_json_raw(r: &TdReport) -> Value {
    let m = &r.report_mac_struct;
    let t = &r.tee_tcb_info;
    let i = &r.td_info;
    let c = check_tdreport(r);
    json!({
        "report_mac_struct": {
            "report_type": h(&m.report_type), "cpusvn": h(&m.cpusvn),
            "tee_tcb_info_hash": h(&m.tee_tcb_info_hash), "tee_info_hash": h(&m.tee_info_hash),
            "report_data": h(&m.report_data), "mac": h(&m.mac),
        },
        "tee_tcb_info": {
            "valid": h(&t.valid), "tee_tcb_svn": h(&t.tee_tcb_svn), "mrseam": h(&t.mrseam),
            "mrsignerseam": h(&t.mrsignerseam), "attributes": h(t.attributes.as_bytes()),
            "tee_tcb_svn2": h(&t.tee_tcb_svn2),
        },
        "td_info": {
            "attributes": h(i.attributes.as_bytes()), "xfam": h(i.xfam.as_bytes()), "mrtd": h(&i.mrtd),
            "mrconfigid": h(&i.mrconfigid), "mrowner": h(&i.mrowner), "mrownerconfig": h(&i.mrownerconfig),
            "rtmr": i.rtmr.iter().map(|x| h(x)).collect::<Vec<_>>(), "servtd_hash": h(&i.servtd_hash),
        },
        "checks": {
            "report_type_tdx": c.type_ok, "reserved_zero": c.reserved_ok,
            "tee_tcb_info_hash": c.tee_tcb_info_hash_ok, "tee_info_hash": c.tee_info_hash_ok,
            "mac": "not checkable without the platform's report key",
        },
    })
}

/// What a file is.
pub enum Shown {
    /// A quote.
    Quote(Box<Quote>),
    /// A TDREPORT.
    TdReport(Box<TdReport>),
}

/// Parses a quote (version 4/5 at offset 0) or a 1024-byte TDREPORT.
pub fn parse_any(bytes: &[u8]) -> Result<Shown, ParseError> {
    if bytes.len() == 1024 && bytes.first() == Some(&0x81) {
        return Ok(Shown::TdReport(Box::new(TdReport::parse(bytes)?)));
    }
    Ok(Shown::Quote(Box::new(Quote::parse(bytes)?)))
}

/// Renders JSON as indented `key: value` lines.
pub fn render_text(v: &Value) -> String {
    fn go(v: &Value, indent: usize, out: &mut String) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match x {
                        Value::Object(_) | Value::Array(_) => {
                            out.push_str(&format!("{:indent$}{k}:\n", ""));
                            go(x, indent + 2, out);
                        }
                        _ => out.push_str(&format!("{:indent$}{k}: {}\n", "", scalar(x))),
                    }
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    match x {
                        Value::Object(_) | Value::Array(_) => {
                            out.push_str(&format!("{:indent$}[{i}]:\n", ""));
                            go(x, indent + 2, out);
                        }
                        _ => out.push_str(&format!("{:indent$}[{i}]: {}\n", "", scalar(x))),
                    }
                }
            }
            _ => out.push_str(&format!("{:indent$}{}\n", "", scalar(v))),
        }
    }
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    let mut out = String::new();
    go(v, 0, &mut out);
    out
}
