//! The verifier: NVIDIA's local verifier's checks (gpu.md §3.2, §4.2, §4.3, §5) with a result in the
//! shape of NVIDIA's claims 3.0, offline (no OCSP), at a given time.

use der::Decode;
use serde_json::{json, Value};
use sim_core::{Platform, Verdict};
use x509_cert::Certificate;

use crate::layout::{OpaqueType, Report};
use crate::pki::FWID_EXT;
use crate::rim::{Rim, RimKind};

/// Number of certificates NVIDIA's verifier requires in the device chain (`MAX_CERT_CHAIN_LENGTH`).
pub const DEVICE_CHAIN_LEN: usize = 5;

/// The RIMs to appraise the measurements with, and the RIM root.
#[derive(Clone, Copy, Debug)]
pub struct RimInputs<'a> {
    /// Driver RIM XML.
    pub driver: &'a str,
    /// VBIOS RIM XML.
    pub vbios: &'a str,
    /// RIM signing root, DER.
    pub root_der: &'a [u8],
}

/// Verification options.
#[derive(Clone, Debug)]
pub struct Options {
    /// The expected nonce (default: the nonce in the request, i.e. only its presence is checked).
    pub nonce: Option<[u8; 32]>,
    /// Verification time, Unix seconds.
    pub now: i64,
    /// Accept bytes after the signature (trustee's parse-by-lengths behaviour; NVIDIA's verifiers take
    /// the last 96 bytes as the signature and reject such a report).
    pub allow_trailing_bytes: bool,
}

/// A validated chain's summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainStatus {
    /// The earliest notAfter in the chain (NVIDIA's `x-nvidia-cert-expiration-date`).
    pub expiration: i64,
}

fn name_of(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

fn cn_of(c: &Certificate) -> String {
    for rdn in c.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == sim_core::x509::oids::CN {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef>() {
                    return s.as_str().to_string();
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef>() {
                    return s.as_str().to_string();
                }
            }
        }
    }
    String::new()
}

fn is_ca(c: &Certificate) -> bool {
    sim_core::x509::find_ext(c, &sim_core::x509::oids::BASIC_CONSTRAINTS)
        .and_then(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
        })
        .is_some_and(|bc| bc.ca)
}

/// Verifies `certs` (leaf first, root excluded) up to `root_der` at `now`: each certificate is signed
/// by the next, its issuer is the next one's subject, every issuer is a CA, every certificate is
/// within its validity, and the root is self-signed.
pub fn verify_chain(certs: &[Vec<u8>], root_der: &[u8], now: i64) -> Result<ChainStatus, String> {
    let mut all: Vec<&[u8]> = certs.iter().map(|c| c.as_slice()).collect();
    all.push(root_der);
    let parsed: Vec<Certificate> = all
        .iter()
        .enumerate()
        .map(|(i, d)| Certificate::from_der(d).map_err(|e| format!("certificate {i}: {e}")))
        .collect::<Result<_, _>>()?;
    let mut expiration = i64::MAX;
    for (i, c) in parsed.iter().enumerate() {
        let issuer = parsed.get(i + 1).unwrap_or(c);
        let der = all.get(i).copied().unwrap_or_default();
        if c.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            return Err(format!(
                "certificate {i} ({}) names issuer {}, next is {}",
                cn_of(c),
                c.tbs_certificate.issuer,
                name_of(issuer)
            ));
        }
        if i + 1 < parsed.len() && !is_ca(issuer) {
            return Err(format!(
                "certificate {} ({}) is not a CA",
                i + 1,
                cn_of(issuer)
            ));
        }
        sim_core::x509::verify_signed(der, &sim_core::x509::cert_spki(issuer))
            .map_err(|e| format!("certificate {i} ({}): {e}", cn_of(c)))?;
        if !sim_core::x509::valid_at(c, now) {
            let v = &c.tbs_certificate.validity;
            return Err(format!(
                "certificate {i} ({}) is not valid at {} (valid {} to {})",
                cn_of(c),
                sim_core::time::to_rfc3339(now),
                sim_core::time::to_rfc3339(sim_core::x509::unix(&v.not_before)),
                sim_core::time::to_rfc3339(sim_core::x509::unix(&v.not_after))
            ));
        }
        expiration = expiration.min(sim_core::x509::unix(&c.tbs_certificate.validity.not_after));
    }
    Ok(ChainStatus { expiration })
}

fn cert_chain_claim(r: &Result<ChainStatus, String>) -> Value {
    match r {
        Ok(s) => json!({
            "x-nvidia-cert-expiration-date": sim_core::time::to_rfc3339(s.expiration),
            "x-nvidia-cert-status": "valid",
            "x-nvidia-cert-ocsp-status": "unknown",
            "x-nvidia-cert-revocation-reason": null,
        }),
        Err(e) => json!({
            "x-nvidia-cert-expiration-date": null,
            "x-nvidia-cert-status": if e.contains("not valid at") { "expired" } else { "invalid" },
            "x-nvidia-cert-ocsp-status": "unknown",
            "x-nvidia-cert-revocation-reason": null,
        }),
    }
}

/// A RIM checked on its own: content, signature and chain.
#[derive(Clone, Debug)]
pub struct RimCheck {
    /// The parsed RIM (None if it does not parse or fails the schema subset).
    pub rim: Result<Rim, String>,
    /// XML-DSig result.
    pub signature: Result<(), String>,
    /// Certificate chain (KeyInfo certificates but the last, then the given root) result.
    pub chain: Result<ChainStatus, String>,
}

/// Checks one RIM: schema subset, enveloped signature, KeyInfo chain to `root_der` at `now`.
pub fn check_rim(xml: &str, root_der: &[u8], now: i64) -> RimCheck {
    let rim = Rim::parse(xml).map_err(|e| e.to_string());
    let sig = crate::xmldsig::verify_enveloped(xml);
    let chain = match crate::xmldsig::signature_certs(xml) {
        Ok(mut certs) if certs.len() >= 2 => {
            certs.pop();
            verify_chain(&certs, root_der, now)
        }
        Ok(certs) => Err(format!(
            "KeyInfo has {} certificates, needs at least 2",
            certs.len()
        )),
        Err(e) => Err(e.to_string()),
    };
    RimCheck {
        rim,
        signature: sig.map(|_| ()).map_err(|e| e.to_string()),
        chain,
    }
}

/// One golden-measurement mismatch (NVAT's `x-nvidia-mismatch-measurement-records` entry).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// RIM index (block index − 1).
    pub index: u32,
    /// `Driver` or `Firmware`.
    #[serde(rename = "measurementSource")]
    pub source: &'static str,
    /// Golden values (all alternatives).
    #[serde(rename = "goldenValue")]
    pub golden: Vec<String>,
    /// Runtime value.
    #[serde(rename = "runtimeValue")]
    pub runtime: String,
}

/// Compares the report's blocks with the active golden entries of both RIMs (gpu.md §4.3): index
/// conflicts are an error; block i + 1 must equal one of `Hash0..`; index 35 is skipped when NVDEC0
/// is disabled (0x55), as NVAT does (NVIDIA's Python verifier never skips it, an LGV bug).
pub fn compare_measurements(
    report: &Report,
    driver: &Rim,
    vbios: &Rim,
) -> Result<Vec<Mismatch>, String> {
    let mut seen = std::collections::BTreeMap::new();
    for (kind, rim) in [(RimKind::Driver, driver), (RimKind::Vbios, vbios)] {
        for r in rim.active() {
            if seen.insert(r.index, kind).is_some() {
                return Err(format!(
                    "index {} is active in both the driver and the VBIOS RIM",
                    r.index
                ));
            }
        }
    }
    if seen.len() > report.response.blocks.len() {
        return Err(format!(
            "{} golden entries but {} runtime blocks",
            seen.len(),
            report.response.blocks.len()
        ));
    }
    let nvdec_off = report.response.opaque.get(OpaqueType::NVDEC0_STATUS) == Some(&[0x55][..]);
    let mut out = Vec::new();
    for (kind, rim) in [(RimKind::Driver, driver), (RimKind::Vbios, vbios)] {
        for r in rim.active() {
            if r.index == 35 && nvdec_off {
                continue;
            }
            let block = u8::try_from(r.index + 1)
                .ok()
                .and_then(|i| report.measurement(i))
                .map(hex::encode)
                .unwrap_or_default();
            let size_ok = usize::try_from(r.size).ok() == Some(block.len() / 2);
            if !size_ok || !r.hashes.contains(&block) {
                out.push(Mismatch {
                    index: r.index,
                    source: kind.source(),
                    golden: r.hashes.clone(),
                    runtime: block,
                });
            }
        }
    }
    Ok(out)
}

fn fwid_from_cert(cert: &Certificate) -> Option<Vec<u8>> {
    let e = sim_core::x509::find_ext(cert, &FWID_EXT)?;
    let v = e.extn_value.as_bytes();
    v.get(v.len().checked_sub(48)?..).map(|s| s.to_vec())
}

/// Verifies a report with its PEM chain under `root_der` and, if given, appraises it against RIMs.
pub fn verify(
    report_bytes: &[u8],
    chain_pem: &str,
    root_der: &[u8],
    rims: Option<RimInputs<'_>>,
    opts: &Options,
) -> Verdict {
    let mut v = Verdict::new(Platform::Gpu);
    let mut c = serde_json::Map::new();
    let parsed = Report::parse(report_bytes);
    let report = match parsed {
        Ok(r) => {
            v.pass(
                "GPU-REPORT-PARSED",
                format!(
                    "{} bytes, {} blocks",
                    report_bytes.len(),
                    r.response.blocks.len()
                ),
            );
            r
        }
        Err(e) => {
            v.fail("GPU-REPORT-PARSED", e.to_string());
            c.insert(
                "x-nvidia-gpu-attestation-report-parsed".into(),
                json!(false),
            );
            v.claims = Value::Object(c);
            return v;
        }
    };
    c.insert("x-nvidia-gpu-attestation-report-parsed".into(), json!(true));
    if report.trailing.is_empty() {
        v.pass("GPU-REPORT-LENGTH", "no bytes after the signature");
    } else {
        let detail = format!(
            "{} byte(s) after the signature at offset {}; NVIDIA's verifiers take the last 96 bytes as the signature and reject this, trustee parses by lengths and accepts it{}",
            report.trailing.len(),
            report.signature_offset + 96,
            if opts.allow_trailing_bytes { " (allowed)" } else { "" }
        );
        v.check("GPU-REPORT-LENGTH", opts.allow_trailing_bytes, detail);
    }
    let o = &report.response.opaque;
    c.insert(
        "x-nvidia-gpu-driver-version".into(),
        json!(o.driver_version()),
    );
    c.insert(
        "x-nvidia-gpu-vbios-version".into(),
        json!(o.vbios_version().map(|s| s.to_uppercase())),
    );

    // Device chain (gpu.md §3.2): exactly five PEM certificates; the last is replaced by the root.
    let certs = sim_core::x509::pem_certs(chain_pem).unwrap_or_default();
    let count_ok = v.check(
        "GPU-CERT-CHAIN-COUNT",
        certs.len() == DEVICE_CHAIN_LEN,
        format!(
            "{} certificates (NVIDIA's verifier requires {DEVICE_CHAIN_LEN})",
            certs.len()
        ),
    );
    let leaf = certs.first().and_then(|d| Certificate::from_der(d).ok());
    let chain = if count_ok {
        verify_chain(&certs[..DEVICE_CHAIN_LEN - 1], root_der, opts.now)
    } else {
        Err("wrong certificate count".to_string())
    };
    match &chain {
        Ok(_) => v.pass(
            "GPU-CERT-CHAIN",
            "AK → IK → L3 → L2 → given root, signatures, names, CA bits, validity",
        ),
        Err(e) => v.fail("GPU-CERT-CHAIN", e.clone()),
    }
    c.insert(
        "x-nvidia-gpu-attestation-report-cert-chain".into(),
        cert_chain_claim(&chain),
    );
    let hwmodel = certs
        .get(1)
        .and_then(|d| Certificate::from_der(d).ok())
        .map(|c| cn_of(&c))
        .unwrap_or_default();
    v.check(
        "GPU-ARCH",
        hwmodel.starts_with("GH100"),
        format!("IK common name {hwmodel:?} (Hopper)"),
    );
    c.insert(
        "x-nvidia-gpu-arch-check".into(),
        json!(hwmodel.starts_with("GH100")),
    );
    c.insert("hwmodel".into(), json!(hwmodel));
    if let Some(l) = &leaf {
        let serial = l.tbs_certificate.serial_number.as_bytes();
        c.insert("ueid".into(), json!(decimal(serial)));
    }

    // FWID (LGV skips the check when the report has no FWID TLV).
    let fwid_ok = match (
        o.get(OpaqueType::FWID),
        leaf.as_ref().and_then(fwid_from_cert),
    ) {
        (None, _) => {
            v.pass(
                "GPU-FWID-MATCH",
                "no FWID in the opaque data: skipped, as NVIDIA's verifier does",
            );
            true
        }
        (Some(f), Some(e)) => v.check(
            "GPU-FWID-MATCH",
            f == e.as_slice(),
            format!(
                "opaque FWID {} vs AK extension 2.23.133.5.4.1 tail {}",
                hex::encode(f),
                hex::encode(&e)
            ),
        ),
        (Some(_), None) => v.check(
            "GPU-FWID-MATCH",
            false,
            "the AK has no 2.23.133.5.4.1 extension",
        ),
    };
    c.insert(
        "x-nvidia-gpu-attestation-report-cert-chain-fwid-match".into(),
        json!(fwid_ok),
    );

    let nonce_ok = match opts.nonce {
        Some(n) => v.check(
            "GPU-NONCE-MATCH",
            n == report.request.nonce,
            format!(
                "request nonce {} vs expected {}",
                hex::encode(report.request.nonce),
                hex::encode(n)
            ),
        ),
        None => {
            v.pass(
                "GPU-NONCE-MATCH",
                format!(
                    "no expected nonce given; request nonce {}",
                    hex::encode(report.request.nonce)
                ),
            );
            true
        }
    };
    c.insert(
        "x-nvidia-gpu-attestation-report-nonce-match".into(),
        json!(nonce_ok),
    );
    c.insert("eat_nonce".into(), json!(hex::encode(report.request.nonce)));

    let sig = match certs.first() {
        Some(leaf_der) => crate::xmldsig::verify_p384_raw(
            leaf_der,
            report.signed_bytes(report_bytes),
            &report.response.signature,
        ),
        None => Err("no leaf certificate".into()),
    };
    let sig_ok = v.check(
        "GPU-REPORT-SIGNATURE",
        sig.is_ok(),
        match &sig {
            Ok(()) => format!(
                "ECDSA P-384/SHA-384 over bytes 0..{} with the AK",
                report.signature_offset
            ),
            Err(e) => format!("does not verify with the AK: {e}"),
        },
    );
    c.insert(
        "x-nvidia-gpu-attestation-report-signature-verified".into(),
        json!(sig_ok),
    );

    if let Some(r) = rims {
        appraise(&mut v, &mut c, &report, r, opts.now);
    }
    c.insert("oemid".into(), json!("5703"));
    // NRAS sets warnings for tolerated conditions (e.g. a certificate on hold); none here. OCSP is not
    // queried by this offline verifier: the cert-chain claims say `x-nvidia-cert-ocsp-status: unknown`.
    c.insert("x-nvidia-attestation-warning".into(), Value::Null);
    v.claims = Value::Object(c);
    v.finish();
    v
}

fn appraise(
    v: &mut Verdict,
    c: &mut serde_json::Map<String, Value>,
    report: &Report,
    r: RimInputs<'_>,
    now: i64,
) {
    let o = &report.response.opaque;
    let mut parsed: Vec<Option<Rim>> = Vec::new();
    for (kind, xml, tag, id) in [
        (RimKind::Driver, r.driver, "driver", "DRIVER"),
        (RimKind::Vbios, r.vbios, "vbios", "VBIOS"),
    ] {
        let chk = check_rim(xml, r.root_der, now);
        c.insert(format!("x-nvidia-gpu-{tag}-rim-fetched"), json!(true));
        v.check(
            format!("GPU-{id}-RIM-SCHEMA"),
            chk.rim.is_ok(),
            chk.rim
                .as_ref()
                .map(|_| "SWID structure".to_string())
                .unwrap_or_else(|e| e.clone()),
        );
        c.insert(
            format!("x-nvidia-gpu-{tag}-rim-schema-validated"),
            json!(chk.rim.is_ok()),
        );
        let runtime = match kind {
            RimKind::Driver => o.driver_version(),
            RimKind::Vbios => o.vbios_version(),
        }
        .unwrap_or_default();
        let version_ok = chk
            .rim
            .as_ref()
            .is_ok_and(|rim| rim.colloquial_version.to_lowercase() == runtime.to_lowercase());
        v.check(
            format!("GPU-{id}-RIM-VERSION"),
            version_ok,
            format!(
                "RIM colloquialVersion {:?} vs report {runtime:?}",
                chk.rim
                    .as_ref()
                    .map(|x| x.colloquial_version.clone())
                    .unwrap_or_default()
            ),
        );
        c.insert(
            format!("x-nvidia-gpu-{tag}-rim-version-match"),
            json!(version_ok),
        );
        match &chk.chain {
            Ok(_) => v.pass(
                format!("GPU-{id}-RIM-CERT-CHAIN"),
                "KeyInfo chain to the given RIM root",
            ),
            Err(e) => v.fail(format!("GPU-{id}-RIM-CERT-CHAIN"), e.clone()),
        }
        c.insert(
            format!("x-nvidia-gpu-{tag}-rim-cert-chain"),
            cert_chain_claim(&chk.chain),
        );
        v.check(
            format!("GPU-{id}-RIM-SIGNATURE"),
            chk.signature.is_ok(),
            chk.signature
                .clone()
                .err()
                .unwrap_or_else(|| "enveloped XML-DSig, C14N 1.1, ecdsa-sha384".into()),
        );
        c.insert(
            format!("x-nvidia-gpu-{tag}-rim-signature-verified"),
            json!(chk.signature.is_ok()),
        );
        c.insert(
            format!("x-nvidia-gpu-{tag}-rim-measurements-available"),
            json!(chk.rim.is_ok()),
        );
        parsed.push(chk.rim.ok());
    }
    let (Some(Some(driver)), Some(Some(vbios))) = (parsed.first(), parsed.get(1)) else {
        v.fail("GPU-MEASUREMENTS", "a RIM could not be read");
        c.insert("measres".into(), json!("fail"));
        return;
    };
    match compare_measurements(report, driver, vbios) {
        Err(e) => {
            v.fail("GPU-RIM-INDEX-CONFLICT", e);
            c.insert("x-nvidia-gpu-vbios-index-no-conflict".into(), json!(false));
            c.insert("measres".into(), json!("fail"));
        }
        Ok(m) => {
            v.pass("GPU-RIM-INDEX-CONFLICT", "no index active in both RIMs");
            c.insert("x-nvidia-gpu-vbios-index-no-conflict".into(), json!(true));
            let ok = m.is_empty();
            let idx: Vec<String> = m
                .iter()
                .map(|x| format!("{} ({})", x.index, x.source))
                .collect();
            v.check(
                "GPU-MEASUREMENTS",
                ok,
                if ok {
                    "every active golden measurement matches".to_string()
                } else {
                    format!("mismatch at RIM index {}", idx.join(", "))
                },
            );
            c.insert("measres".into(), json!(if ok { "success" } else { "fail" }));
            c.insert("secboot".into(), json!(ok));
            c.insert(
                "dbgstat".into(),
                json!(if ok { "disabled" } else { "enabled" }),
            );
            if !ok {
                c.insert("x-nvidia-mismatch-measurement-records".into(), json!(m));
            }
        }
    }
}

/// Decimal string of a big-endian unsigned integer (NVIDIA's `ueid` is the AK serial in decimal).
pub fn decimal(be: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for &b in be {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            let x = u32::from(*d) * 256 + carry;
            *d = u8::try_from(x % 10).unwrap_or(0);
            carry = x / 10;
        }
        while carry > 0 {
            digits.push(u8::try_from(carry % 10).unwrap_or(0));
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}
