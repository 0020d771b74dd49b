//! NVIDIA's RIM service (gpu.md §4.4) and OCSP responder (gpu.md §3.2, RFC 6960) for the simulated
//! device and RIM PKIs of `sim_gpu::pki`.
//!
//! **RIM service.** `GET /v1/rim/{id}` answers `{"id": id, "rim": base64(signed SWID XML)}`, as
//! `rim.attestation.nvidia.com` does. The RIM of an id is the one `cvmsim gpu evidence` writes for the
//! firmware the id names (`NV_GPU_DRIVER_GH100_<version>`, `NV_GPU_VBIOS_<PROJECT>_<SKU>_<CHIP_SKU>_<10 hex>`):
//! the simulated RIMs depend on the firmware only, so every well-formed id has one, signed by the
//! simulated RIM signer. Files given with `--rims DIR` (`<id>.xml`) are served in place of derived ones
//! (that is how a tampered RIM reaches a verifier). Other ids: 404 `{"error": ...}`.
//! `GET /v1/rim/ids` lists `{"ids": [...]}`: the `--rims` ids and the default firmware's.
//!
//! **OCSP.** `POST` (`application/ocsp-request`) to `/`, `/ocsp` or `/ocsp/`, or `GET /ocsp/{base64}`
//! (RFC 6960 Appendix A.1). CertIDs with SHA-1, SHA-256, SHA-384 or SHA-512 are matched against the
//! simulated CAs by issuer name and key hash. The issuing CA signs the response itself (RFC 6960 §4.2.2.2
//! allows the CA to be its own responder), ECDSA P-384/SHA-384, with `responderID` byKey and the CA
//! certificate in `certs`, which is how NVIDIA's Python verifier walks the signer to the root. The
//! request nonce (1.3.6.1.5.5.7.48.1.2) is echoed verbatim. Status: `revoked` (with the revocation
//! time and reason) for a serial revoked with `--revoke` or the admin route, else `good` — "good"
//! means "not revoked" (RFC 6960 §2.2), so per-device IK serials of any seed are good. A request
//! naming an issuer that is not a simulated CA, or several issuers at once, gets `unauthorized` (6);
//! one that does not parse gets `malformedRequest` (1); both with HTTP 200, as RFC 6960 responders do.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode};
use p384::ecdsa::SigningKey;
use sha2::Digest;
use sim_gpu::device::{sign_rim, DeviceConfig, FirmwareSet, H100};
use sim_gpu::pki::{DeviceCas, DeviceIdentity, KeyCert, RimPki};
use sim_gpu::rim::RimKind;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId,
    ResponseData, RevokedInfo, SingleResponse,
};

use super::{error, normalise_serial, ServeConfig, ServeError, Shared};

/// Largest OCSP request body accepted (a real one is a few hundred bytes).
pub const OCSP_BODY_MAX: usize = 64 * 1024;
/// Content type of OCSP responses.
pub const OCSP_RESPONSE: &str = "application/ocsp-response";
/// How long an OCSP answer is valid (`nextUpdate - thisUpdate`): one day.
pub const OCSP_VALIDITY: i64 = 86_400;
const RIM_CACHE_MAX: usize = 1024;
const NONCE_OID: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// A simulated CA that answers OCSP for the certificates it issued.
pub struct Ca {
    /// Name for `--revoke` and logs (`device-l3`, `rim-signer`, `ik-<seed>`, ...).
    pub name: String,
    /// Signing key.
    pub key: SigningKey,
    /// Certificate, DER.
    pub cert: Vec<u8>,
    /// Its subject Name, DER (hashed into CertID issuerNameHash).
    subject_der: Vec<u8>,
    /// Its subjectPublicKey BIT STRING contents (hashed into issuerKeyHash and the responder KeyHash).
    key_bits: Vec<u8>,
    /// Its serial number, normalised.
    pub serial: Vec<u8>,
}

impl Ca {
    fn new(name: &str, kc: &KeyCert) -> Result<Ca, ServeError> {
        let c = Certificate::from_der(&kc.cert).map_err(|e| ServeError::Pki(e.to_string()))?;
        let subject_der = c
            .tbs_certificate
            .subject
            .to_der()
            .map_err(|e| ServeError::Pki(e.to_string()))?;
        let key_bits = c
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec();
        Ok(Ca {
            name: name.into(),
            key: kc.key.clone(),
            cert: kc.cert.clone(),
            subject_der,
            key_bits,
            serial: normalise_serial(c.tbs_certificate.serial_number.as_bytes()),
        })
    }
}

/// The names `--revoke` accepts besides hex serials.
pub fn ca_names() -> Vec<&'static str> {
    vec![
        "device-l1",
        "device-l2",
        "device-l3",
        "rim-root",
        "rim-ca",
        "rim-l3",
        "rim-signer",
        "ik-<seed>",
        "ak-<seed>",
        "pck-<seed>",
    ]
}

/// RIM service and OCSP responder state.
pub struct Nvidia {
    /// Every simulated CA (device L1-L3, RIM root/CA/L3/signer, the IK of every seed).
    pub cas: Vec<Ca>,
    /// Named leaf serials that are not CAs (`ak-<seed>`).
    leaves: Vec<(String, Vec<u8>)>,
    rim_pki: RimPki,
    rim_files: BTreeMap<String, Arc<Vec<u8>>>,
    rim_cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

fn pki_err(e: impl std::fmt::Display) -> ServeError {
    ServeError::Pki(e.to_string())
}

impl Nvidia {
    /// Builds the simulated PKIs and reads `--rims`.
    pub fn new(config: &ServeConfig) -> Result<Nvidia, ServeError> {
        let dev = DeviceCas::new().map_err(pki_err)?;
        let rim = RimPki::new().map_err(pki_err)?;
        let mut cas = vec![
            Ca::new("device-l1", &dev.l1)?,
            Ca::new("device-l2", &dev.l2)?,
            Ca::new("device-l3", &dev.l3)?,
            Ca::new("rim-root", &rim.root)?,
            Ca::new("rim-ca", &rim.ca)?,
            Ca::new("rim-l3", &rim.l3)?,
            Ca::new("rim-signer", &rim.signer)?,
        ];
        let mut leaves = Vec::new();
        let fwid = FirmwareSet::default().fwid();
        for &seed in &config.seeds {
            let id = DeviceIdentity::new(&dev, seed, &fwid).map_err(pki_err)?;
            cas.push(Ca::new(&format!("ik-{seed}"), &id.ik)?);
            if let Ok(c) = Certificate::from_der(&id.ak.cert) {
                leaves.push((
                    format!("ak-{seed}"),
                    normalise_serial(c.tbs_certificate.serial_number.as_bytes()),
                ));
            }
        }
        let mut rim_files = BTreeMap::new();
        if let Some(dir) = &config.rims_dir {
            let shown = dir.display().to_string();
            let rd = std::fs::read_dir(dir)
                .map_err(|e| ServeError::Rims(shown.clone(), e.to_string()))?;
            for entry in rd {
                let p = entry
                    .map_err(|e| ServeError::Rims(shown.clone(), e.to_string()))?
                    .path();
                let Some(id) = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".xml"))
                else {
                    continue;
                };
                let bytes = std::fs::read(&p)
                    .map_err(|e| ServeError::Rims(p.display().to_string(), e.to_string()))?;
                rim_files.insert(id.to_string(), Arc::new(bytes));
            }
        }
        Ok(Nvidia {
            cas,
            leaves,
            rim_pki: rim,
            rim_files,
            rim_cache: Mutex::new(HashMap::new()),
        })
    }

    /// The serial of a named simulated certificate.
    pub fn serial_by_name(&self, name: &str) -> Option<Vec<u8>> {
        self.cas
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.serial.clone())
            .or_else(|| {
                self.leaves
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.clone())
            })
    }

    /// The signed RIM of `id`, if the id is well-formed (or given with `--rims`).
    pub fn rim(&self, id: &str) -> Option<Arc<Vec<u8>>> {
        if let Some(f) = self.rim_files.get(id) {
            return Some(f.clone());
        }
        if let Some(v) = self.rim_cache.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Some(v);
        }
        let (kind, fw) = firmware_of_rim_id(id)?;
        let mut config = DeviceConfig::new(0);
        config.firmware = fw;
        let dev = H100::new(config).ok()?;
        let xml = sign_rim(&dev.rim(kind), &self.rim_pki).ok()?;
        let v = Arc::new(xml.into_bytes());
        if let Ok(mut m) = self.rim_cache.lock() {
            if m.len() >= RIM_CACHE_MAX {
                m.clear();
            }
            m.insert(id.to_string(), v.clone());
        }
        Some(v)
    }

    /// The RIM ids listed by `/v1/rim/ids`.
    pub fn rim_ids(&self) -> Vec<String> {
        let fw = FirmwareSet::default();
        let mut ids: Vec<String> = self.rim_files.keys().cloned().collect();
        for id in [fw.driver_rim_id(), fw.vbios_rim_id()] {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
}

fn ascii_id_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The firmware a RIM id names (gpu.md §4.4), or `None` for an id of no simulated firmware.
pub fn firmware_of_rim_id(id: &str) -> Option<(RimKind, FirmwareSet)> {
    let mut fw = FirmwareSet::default();
    if let Some(ver) = id.strip_prefix("NV_GPU_DRIVER_GH100_") {
        let ok = !ver.is_empty()
            && ver.len() <= 32
            && ver.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && ver.bytes().next().is_some_and(|b| b.is_ascii_digit());
        if !ok {
            return None;
        }
        fw.driver_version = ver.to_string();
        return Some((RimKind::Driver, fw));
    }
    let rest = id.strip_prefix("NV_GPU_VBIOS_")?;
    let parts: Vec<&str> = rest.split('_').collect();
    let [project, project_sku, chip_sku, vbios] = parts.as_slice() else {
        return None;
    };
    if ![project, project_sku, chip_sku]
        .iter()
        .all(|p| ascii_id_part(p))
        || vbios.len() != 10
        || !vbios.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let up = vbios.to_ascii_uppercase();
    let dotted: Vec<&str> = (0..5).filter_map(|i| up.get(2 * i..2 * i + 2)).collect();
    fw.vbios_version = dotted.join(".");
    fw.project = project.to_string();
    fw.project_sku = project_sku.to_string();
    fw.chip_sku = chip_sku.to_string();
    Some((RimKind::Vbios, fw))
}

/// The RIM service and OCSP routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/rim/ids", get(rim_ids))
        .route("/v1/rim/{id}", get(rim))
        .route("/", post(ocsp_post))
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/", post(ocsp_post))
        .route("/ocsp/{*req}", get(ocsp_get))
        .layer(DefaultBodyLimit::max(OCSP_BODY_MAX))
}

async fn rim_ids(State(s): State<Shared>) -> Response {
    axum::Json(serde_json::json!({ "ids": s.nvidia.rim_ids() })).into_response()
}

async fn rim(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let st = s.clone();
    let id2 = id.clone();
    let r = tokio::task::spawn_blocking(move || st.nvidia.rim(&id2))
        .await
        .ok()
        .flatten();
    match r {
        Some(xml) => axum::Json(serde_json::json!({
            "id": id,
            "rim": base64::engine::general_purpose::STANDARD.encode(xml.as_slice()),
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": format!("RIM {id} not found") })),
        )
            .into_response(),
    }
}

async fn ocsp_post(State(s): State<Shared>, body: Bytes) -> Response {
    ocsp_reply(s, body.to_vec()).await
}

async fn ocsp_get(State(s): State<Shared>, Path(req): Path<String>) -> Response {
    // RFC 6960 A.1: the URL-encoded base64 DER request (Path already percent-decoded it).
    let b64 = base64::engine::general_purpose::STANDARD;
    match b64.decode(req.trim_start_matches('/')) {
        Ok(der) => ocsp_reply(s, der).await,
        Err(_) => ocsp_bytes(OcspResponse::malformed_request()),
    }
}

fn ocsp_bytes(r: OcspResponse) -> Response {
    match r.to_der() {
        Ok(der) => ([(header::CONTENT_TYPE, OCSP_RESPONSE)], der).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn ocsp_reply(s: Shared, der: Vec<u8>) -> Response {
    let r = tokio::task::spawn_blocking(move || respond(&s, &der)).await;
    match r {
        Ok(resp) => ocsp_bytes(resp),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn hash(alg: &const_oid::ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256, ID_SHA_384, ID_SHA_512};
    Some(match *alg {
        ID_SHA_1 => sha1::Sha1::digest(data).to_vec(),
        ID_SHA_256 => sha2::Sha256::digest(data).to_vec(),
        ID_SHA_384 => sha2::Sha384::digest(data).to_vec(),
        ID_SHA_512 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn gtime(t: i64) -> Option<OcspGeneralizedTime> {
    let secs = u64::try_from(t).ok()?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .ok()
        .map(OcspGeneralizedTime)
}

/// The OCSP response to a DER request (never fails: errors become RFC 6960 error statuses).
pub fn respond(s: &super::AppState, der: &[u8]) -> OcspResponse {
    let Ok(req) = OcspRequest::from_der(der) else {
        return OcspResponse::malformed_request();
    };
    if req.tbs_request.request_list.is_empty() {
        return OcspResponse::malformed_request();
    }
    let mut signer: Option<&Ca> = None;
    let now = s.now();
    let (Some(t_now), Some(t_next)) = (gtime(now), gtime(now.saturating_add(OCSP_VALIDITY))) else {
        return OcspResponse::internal_error();
    };
    let mut responses = Vec::new();
    for r in &req.tbs_request.request_list {
        let id = &r.req_cert;
        let alg = &id.hash_algorithm.oid;
        let ca = s.nvidia.cas.iter().find(|c| {
            hash(alg, &c.subject_der).as_deref() == Some(id.issuer_name_hash.as_bytes())
                && hash(alg, &c.key_bits).as_deref() == Some(id.issuer_key_hash.as_bytes())
        });
        let Some(ca) = ca else {
            return OcspResponse::unauthorized();
        };
        match signer {
            Some(prev) if prev.name != ca.name => return OcspResponse::unauthorized(),
            _ => signer = Some(ca),
        }
        let status = match s.revocation(id.serial_number.as_bytes()) {
            Some(rv) => {
                let Some(at) = gtime(rv.at) else {
                    return OcspResponse::internal_error();
                };
                CertStatus::revoked(RevokedInfo {
                    revocation_time: at,
                    revocation_reason: Some(if rv.reason == 6 {
                        x509_cert::ext::pkix::CrlReason::CertificateHold
                    } else {
                        x509_cert::ext::pkix::CrlReason::KeyCompromise
                    }),
                })
            }
            None => CertStatus::good(),
        };
        responses.push(SingleResponse {
            cert_id: id.clone(),
            cert_status: status,
            this_update: t_now,
            next_update: Some(t_next),
            single_extensions: None,
        });
    }
    let Some(ca) = signer else {
        return OcspResponse::malformed_request();
    };
    let nonce = req
        .tbs_request
        .request_extensions
        .as_ref()
        .and_then(|exts| {
            exts.iter().find(|e| e.extn_id == NONCE_OID).map(|e| {
                let mut e = e.clone();
                e.critical = false;
                vec![e]
            })
        });
    match sign_response(ca, t_now, responses, nonce) {
        Some(r) => r,
        None => OcspResponse::internal_error(),
    }
}

fn sign_response(
    ca: &Ca,
    produced_at: OcspGeneralizedTime,
    responses: Vec<SingleResponse>,
    extensions: Option<Vec<x509_cert::ext::Extension>>,
) -> Option<OcspResponse> {
    let key_hash = OctetString::new(sha1::Sha1::digest(&ca.key_bits).to_vec()).ok()?;
    let data = ResponseData {
        version: x509_ocsp::Version::V1,
        responder_id: ResponderId::ByKey(key_hash),
        produced_at,
        responses,
        response_extensions: extensions,
    };
    let tbs = data.to_der().ok()?;
    let sig = sim_gpu::pki::sign_der(&ca.key, &tbs);
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: sim_core::x509::alg_ecdsa_sha384(),
        signature: BitString::from_bytes(&sig).ok()?,
        certs: Some(vec![Certificate::from_der(&ca.cert).ok()?]),
    };
    OcspResponse::successful(basic).ok()
}
