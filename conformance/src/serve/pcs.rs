//! Intel's Provisioning Certification Service, API v4 (tdx.md §3.3-3.4), for the simulated Intel PKI of
//! `sim_tdx`: the collateral a quote verifier fetches by FMSPC, as PCS and PCCS serve it.
//!
//! | route | body | issuer-chain header |
//! | --- | --- | --- |
//! | `GET /tdx/certification/v4/tcb?fmspc=<12 hex>[&update=standard\|early][&tcbEvaluationDataNumber=N]` | `{"tcbInfo":<raw>,"signature":"<hex>"}` | `TCB-Info-Issuer-Chain` |
//! | `GET /tdx/certification/v4/qe/identity[?update=..]` | `{"enclaveIdentity":<raw>,"signature":"<hex>"}` | `SGX-Enclave-Identity-Issuer-Chain` |
//! | `GET /sgx/certification/v4/pckcrl?ca=platform[&encoding=der\|pem]` | PCK Platform CA CRL (PEM unless `encoding=der`) | `SGX-PCK-CRL-Issuer-Chain` |
//! | `GET /sgx/certification/v4/rootcacrl` | root CA CRL as hex text (PCCS) | — |
//! | `GET /IntelSGXRootCA.der` | root CA CRL, DER (the root certificate's CRL distribution point path) | — |
//! | `GET /Intel_SGX_Provisioning_Certification_RootCA.cer` | the simulated root certificate, DER | — |
//! | `GET /sgx/certification/v4/pckcert?encrypted_ppid=&cpusvn=&pcesvn=&pceid=[&qeid=]` | PCK certificate PEM of the first `--seed` | `SGX-PCK-Certificate-Issuer-Chain`, `SGX-TCBm`, `SGX-FMSPC`, `SGX-PCK-Certificate-CA-Type` |
//!
//! The raw `tcbInfo` / `enclaveIdentity` objects, their signatures, the CRLs and the issuer chains are
//! byte-identical to the fields of the `collateral.json` that `cvmsim tdx quote` writes (default
//! options): the same [`sim_tdx::collateral::sim_collateral`] over the same simulated PKI. Issuer chains
//! are URL-encoded PEM, leaf first, as Intel sends them. A PCK certificate in the `--revoke` list is put
//! on the PCK CRL (as `cvmsim tdx quote --revoke-pck` does).
//!
//! Status codes: a missing or malformed parameter is 400; an FMSPC, CA type, `tcbEvaluationDataNumber`
//! or platform the simulation does not have is 404. The simulated PKI has a PCK *Platform* CA only, so
//! `ca=processor` is 404. `pckcert` cannot decrypt `encrypted_ppid` (it is RSA-OAEP to Intel's key): it
//! answers for the simulated platform's CPUSVN, PCESVN and PCEID, with the PCK of the first `--seed`.

// The handlers' early returns are `Result<_, Response>`: the error is the HTTP answer itself, built at
// most once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sim_tdx::collateral::{sim_collateral, Collateral, SIM_CPUSVN, SIM_PCESVN};
use sim_tdx::evidence::{pck_identity, DEFAULT_VALIDITY, SIM_FMSPC};
use sim_tdx::pki::{derive_key, IntelPki, Revocations};

use super::{error, Shared};

/// The PCS state: the simulated PKI, the collateral, and the PCK of the first seed, for one set of
/// revoked PCK certificates.
pub struct Pcs {
    /// The collateral `cvmsim tdx quote` writes for these seeds and revocations.
    pub collateral: Collateral,
    pki: IntelPki,
    pck_pem: String,
    tcb_evaluation_data_number: Option<u64>,
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986 §2.3), as Intel encodes its headers.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The serial of the PCK certificate of platform `seed` (as `cvmsim tdx quote --seed` issues it).
pub fn pck_serial(seed: u64) -> Option<Vec<u8>> {
    IntelPki::pck_serial(&derive_key("tdx/pck", seed)).ok()
}

/// The revoked PCK serials a [`Pcs`] was built for, and that PCS.
type Built = (Vec<Vec<u8>>, Option<Arc<Pcs>>);

/// The PCS state of the current revocation list: rebuilt when the revoked PCKs change.
pub struct PcsHolder {
    seeds: Vec<u64>,
    /// `(seed, PCK serial as DER INTEGER content, normalised)`.
    pcks: Vec<(u64, Vec<u8>, Vec<u8>)>,
    current: Mutex<Built>,
}

impl PcsHolder {
    /// The PCS of the platforms of `seeds`.
    pub fn new(seeds: &[u64]) -> PcsHolder {
        let pcks = seeds
            .iter()
            .filter_map(|&s| pck_serial(s).map(|raw| (s, super::normalise_serial(&raw), raw)))
            .map(|(s, n, raw)| (s, raw, n))
            .collect();
        PcsHolder {
            seeds: seeds.to_vec(),
            pcks,
            current: Mutex::new((Vec::new(), None)),
        }
    }

    /// The serial of `pck-<seed>`, normalised.
    pub fn serial_by_name(&self, name: &str) -> Option<Vec<u8>> {
        let seed: u64 = name.strip_prefix("pck-")?.parse().ok()?;
        pck_serial(seed).map(|s| super::normalise_serial(&s))
    }

    /// The PCS for the PCKs revoked now.
    pub fn get(&self, state: &super::AppState) -> Result<Arc<Pcs>, super::ServeError> {
        let revoked: Vec<Vec<u8>> = self
            .pcks
            .iter()
            .filter(|(_, _, n)| state.revocation(n).is_some())
            .map(|(_, raw, _)| raw.clone())
            .collect();
        let mut cur = self
            .current
            .lock()
            .map_err(|_| super::ServeError::Pki("PCS state poisoned".into()))?;
        if let (r, Some(p)) = &*cur {
            if *r == revoked {
                return Ok(p.clone());
            }
        }
        let p = Arc::new(Pcs::new(&self.seeds, &revoked)?);
        *cur = (revoked, Some(p.clone()));
        Ok(p)
    }
}

impl Pcs {
    /// Builds the PKI and collateral with `pck` (serials as issued) on the PCK CRL.
    pub fn new(seeds: &[u64], pck: &[Vec<u8>]) -> Result<Pcs, super::ServeError> {
        let err = |e: sim_tdx::pki::PkiError| super::ServeError::Pki(e.to_string());
        let issued = sim_core::time::ISSUE_EPOCH;
        let pck = pck.to_vec();
        let pki = IntelPki::new(issued, DEFAULT_VALIDITY, &Revocations { pck, root: vec![] })
            .map_err(err)?;
        let collateral = sim_collateral(&pki, &SIM_FMSPC, issued, DEFAULT_VALIDITY);
        let seed = seeds.first().copied().unwrap_or(0);
        let pck_der = pki
            .issue_pck(&derive_key("tdx/pck", seed), &pck_identity(seed))
            .map_err(err)?;
        let tcb_evaluation_data_number =
            serde_json::from_str::<serde_json::Value>(&collateral.tcb_info)
                .ok()
                .and_then(|v| v.get("tcbEvaluationDataNumber").and_then(|n| n.as_u64()));
        Ok(Pcs {
            collateral,
            pck_pem: sim_core::x509::to_pem("CERTIFICATE", &pck_der),
            pki,
            tcb_evaluation_data_number,
        })
    }
}

/// The PCS routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/tdx/certification/v4/tcb", get(tcb))
        .route("/tdx/certification/v4/qe/identity", get(qe_identity))
        .route("/sgx/certification/v4/pckcrl", get(pckcrl))
        .route("/sgx/certification/v4/rootcacrl", get(rootcacrl))
        .route("/sgx/certification/v4/pckcert", get(pckcert))
        .route("/IntelSGXRootCA.der", get(rootcacrl_der))
        .route(
            "/Intel_SGX_Provisioning_Certification_RootCA.cer",
            get(root_cert),
        )
}

type Q = Query<HashMap<String, String>>;

fn with_headers(
    body: impl IntoResponse,
    ctype: &'static str,
    headers: &[(&'static str, String)],
) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    r
}

fn check_update(q: &HashMap<String, String>) -> Result<(), Response> {
    match q.get("update").map(String::as_str) {
        None | Some("standard") | Some("early") => Ok(()),
        Some(u) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("update={u:?}: expected standard or early"),
        )),
    }
}

fn pcs(s: &Shared) -> Result<Arc<Pcs>, Response> {
    s.pcs
        .get(s)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn tcb(State(s): State<Shared>, Query(q): Q) -> Response {
    let Some(fmspc) = q.get("fmspc") else {
        return error(StatusCode::BAD_REQUEST, "missing query parameter fmspc");
    };
    if fmspc.len() != 12 || !fmspc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("fmspc={fmspc:?}: expected 12 hex digits"),
        );
    }
    if let Err(r) = check_update(&q) {
        return r;
    }
    if let Some(n) = q.get("tcbEvaluationDataNumber") {
        match n.parse::<u64>() {
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("tcbEvaluationDataNumber={n:?}"),
                )
            }
            Ok(n) if Some(n) != pcs_tcb_number(&s) => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no TCB info with tcbEvaluationDataNumber {n}"),
                )
            }
            Ok(_) => {}
        }
    }
    if !fmspc.eq_ignore_ascii_case(&hex::encode(SIM_FMSPC)) {
        return error(
            StatusCode::NOT_FOUND,
            format!("no TCB info for FMSPC {fmspc}"),
        );
    }
    let p = match pcs(&s) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let c = &p.collateral;
    let body = format!(
        "{{\"tcbInfo\":{},\"signature\":\"{}\"}}",
        c.tcb_info, c.tcb_info_signature
    );
    with_headers(
        body,
        "application/json",
        &[(
            "tcb-info-issuer-chain",
            url_encode(&c.tcb_info_issuer_chain),
        )],
    )
}

async fn qe_identity(State(s): State<Shared>, Query(q): Q) -> Response {
    if let Err(r) = check_update(&q) {
        return r;
    }
    let p = match pcs(&s) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let c = &p.collateral;
    let body = format!(
        "{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}",
        c.qe_identity, c.qe_identity_signature
    );
    with_headers(
        body,
        "application/json",
        &[(
            "sgx-enclave-identity-issuer-chain",
            url_encode(&c.qe_identity_issuer_chain),
        )],
    )
}

async fn pckcrl(State(s): State<Shared>, Query(q): Q) -> Response {
    match q.get("ca").map(String::as_str) {
        Some("platform") => {}
        Some("processor") => {
            return error(
                StatusCode::NOT_FOUND,
                "the simulated PKI has no PCK Processor CA",
            )
        }
        Some(ca) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("ca={ca:?}: expected platform or processor"),
            )
        }
        None => return error(StatusCode::BAD_REQUEST, "missing query parameter ca"),
    }
    let p = match pcs(&s) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let c = &p.collateral;
    let Ok(der) = hex::decode(&c.pck_crl) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "PCK CRL");
    };
    let chain = [(
        "sgx-pck-crl-issuer-chain",
        url_encode(&c.pck_crl_issuer_chain),
    )];
    match q.get("encoding").map(String::as_str) {
        Some("der") => with_headers(der, "application/pkix-crl", &chain),
        None | Some("pem") => with_headers(
            sim_core::x509::to_pem("X509 CRL", &der),
            "application/x-pem-file",
            &chain,
        ),
        Some(e) => error(
            StatusCode::BAD_REQUEST,
            format!("encoding={e:?}: expected der or pem"),
        ),
    }
}

async fn rootcacrl(State(s): State<Shared>) -> Response {
    match pcs(&s) {
        Ok(p) => with_headers(p.collateral.root_ca_crl.clone(), "text/plain", &[]),
        Err(r) => r,
    }
}

async fn rootcacrl_der(State(s): State<Shared>) -> Response {
    let p = match pcs(&s) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match hex::decode(&p.collateral.root_ca_crl) {
        Ok(der) => with_headers(der, "application/pkix-crl", &[]),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "root CA CRL"),
    }
}

async fn root_cert(State(s): State<Shared>) -> Response {
    match pcs(&s) {
        Ok(p) => with_headers(p.pki.root_der.clone(), "application/pkix-cert", &[]),
        Err(r) => r,
    }
}

fn pcs_tcb_number(s: &Shared) -> Option<u64> {
    pcs(s).ok().and_then(|p| p.tcb_evaluation_data_number)
}

async fn pckcert(State(s): State<Shared>, Query(q): Q) -> Response {
    let hexp = |name: &str, len: usize| -> Result<Vec<u8>, Response> {
        let v = q.get(name).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                format!("missing query parameter {name}"),
            )
        })?;
        match hex::decode(v) {
            Ok(b) if len == 0 || b.len() == len => Ok(b),
            _ => Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{name}={v:?}: expected hex{}",
                    if len > 0 {
                        format!(" of {len} bytes")
                    } else {
                        String::new()
                    }
                ),
            )),
        }
    };
    let (ppid, cpusvn, pcesvn, pceid) = match (
        hexp("encrypted_ppid", 384),
        hexp("cpusvn", 16),
        hexp("pcesvn", 2),
        hexp("pceid", 2),
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (_, _, _, Err(r)) => return r,
    };
    let _ = ppid;
    let pcesvn_le = u16::from_le_bytes([
        pcesvn.first().copied().unwrap_or(0),
        pcesvn.get(1).copied().unwrap_or(0),
    ]);
    if cpusvn != SIM_CPUSVN || pcesvn_le != SIM_PCESVN || pceid != [0, 0] {
        return error(
            StatusCode::NOT_FOUND,
            "no PCK certificate for this platform TCB",
        );
    }
    let tcbm = format!(
        "{}{}",
        hex::encode(SIM_CPUSVN),
        hex::encode(SIM_PCESVN.to_le_bytes())
    );
    let p = match pcs(&s) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let chain = p.collateral.pck_crl_issuer_chain.clone();
    with_headers(
        p.pck_pem.clone(),
        "application/x-pem-file",
        &[
            ("sgx-pck-certificate-issuer-chain", url_encode(&chain)),
            ("sgx-tcbm", tcbm),
            ("sgx-fmspc", hex::encode_upper(SIM_FMSPC)),
            ("sgx-pck-certificate-ca-type", "platform".into()),
        ],
    )
}
