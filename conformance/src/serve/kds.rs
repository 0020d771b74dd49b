//! The AMD Key Distribution Service (snp.md §2.3) for the simulated chips and CAs.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /vcek/v1/{Milan,Genoa,Turin}/cert_chain` | PEM, ASK then ARK |
//! | `GET /vlek/v1/{product}/cert_chain` | PEM, ASVK then ARK |
//! | `GET /vcek/v1/{product}/crl`, `/vlek/v1/{product}/crl` | DER CRL signed by the ARK, listing revoked ASK/ASVK serials |
//! | `GET /vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=` (Turin: also `fmcSPL`, 16-hex hwid) | DER VCEK |
//! | `GET /vlek/v1/{product}/cert?blSPL=..` | DER VLEK of the simulated provider `cvmsim-csp` |
//!
//! Like the real KDS, the VCEK is derived for whatever TCB is asked (from AMD's copy of the chip seed,
//! [`sim_snp::sp::Platform::kds_vcek`]), so it verifies reports of that TCB, including TCBs above the
//! chip's own. Certificates are dated [`sim_core::time::ISSUE_EPOCH`], as `cvmsim snp report` dates them,
//! so the same seed and TCB give the same bytes as its `vcek.der`.
//!
//! Status codes: an unknown product or path is 404; a hwid of the wrong length or not hex, a missing,
//! non-decimal or out-of-range SPL, or an `fmcSPL` on a pre-Turin product is 400; a well-formed hwid
//! of no simulated chip is 404. Parameter names are case-sensitive (`blSPL`), as snpguest and go-sev-guest
//! send them; decimal SPLs may be zero-padded (snpguest writes `{:02}`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sim_snp::layout::TcbVersion;
use sim_snp::pki::{vendor, Endorsement};
use sim_snp::product::Product;
use sim_snp::sp::{Platform, PlatformConfig, VlekConfig};

use super::{error, Shared};

/// The provider the simulated VLEKs are issued for (as `cvmsim snp report --signer vlek`).
pub const CSP_ID: &str = "cvmsim-csp";
/// Content type of DER certificates (RFC 2585).
pub const PKIX_CERT: &str = "application/pkix-cert";
/// Content type of DER CRLs (RFC 2585).
pub const PKIX_CRL: &str = "application/pkix-crl";
/// Content type of PEM chains.
pub const PEM_FILE: &str = "application/x-pem-file";
/// Entries kept in the issued-certificate cache before it is cleared (bounds memory under any load).
const CACHE_MAX: usize = 4096;

/// What was issued: a VEK (endorsement, product, hwid, TCB bytes) or a CRL (endorsement, product,
/// revoked serials as 4-byte big-endian words, TCB bytes unused).
type CacheKey = (Endorsement, Product, Vec<u8>, [u8; 8]);
/// The TCB bytes of CRL cache keys (no VEK has this TCB key together with a CRL's hwid field).
const CRL_TAG: [u8; 8] = [0xff; 8];

/// The simulated chips and the certificates issued so far.
pub struct Kds {
    chips: Vec<(Product, u64, Arc<Platform>)>,
    vlek: Vec<(Product, Arc<Platform>)>,
    cache: Mutex<HashMap<CacheKey, Arc<Vec<u8>>>>,
}

impl Kds {
    /// The chips of every product for every seed.
    pub fn new(seeds: &[u64]) -> Kds {
        let mut chips = Vec::new();
        for &seed in seeds {
            for product in Product::ALL {
                if let Ok(p) = Platform::new(PlatformConfig::new(product, seed)) {
                    chips.push((product, seed, Arc::new(p)));
                }
            }
        }
        let vlek = Product::ALL
            .iter()
            .filter_map(|&product| {
                let mut c = PlatformConfig::new(product, seeds.first().copied().unwrap_or(0));
                c.vlek = Some(VlekConfig {
                    csp_id: CSP_ID.into(),
                });
                Platform::new(c).ok().map(|p| (product, Arc::new(p)))
            })
            .collect();
        Kds {
            chips,
            vlek,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The chip of `product` whose hwid (CHIP_ID; Turin its first 8 bytes) is `hwid`.
    pub fn chip(&self, product: Product, hwid: &[u8]) -> Option<Arc<Platform>> {
        self.chips
            .iter()
            .find(|(p, _, c)| *p == product && c.chip_id().get(..hwid.len()) == Some(hwid))
            .map(|(_, _, c)| c.clone())
    }

    /// The hwid path component of the chip of `product` and `seed` (lowercase hex), if served.
    pub fn hwid_hex(&self, product: Product, seed: u64) -> Option<String> {
        self.chips
            .iter()
            .find(|(p, s, _)| *p == product && *s == seed)
            .and_then(|(_, _, c)| c.chip_id().get(..product.hwid_len()).map(hex::encode))
    }

    fn cached(
        &self,
        key: CacheKey,
        make: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Arc<Vec<u8>>> {
        if let Some(v) = self.cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Some(v);
        }
        let v = Arc::new(make()?);
        if let Ok(mut m) = self.cache.lock() {
            if m.len() >= CACHE_MAX {
                m.clear();
            }
            m.insert(key, v.clone());
        }
        Some(v)
    }
}

/// The KDS routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/vcek/v1/{product}/cert_chain", get(vcek_chain))
        .route("/vlek/v1/{product}/cert_chain", get(vlek_chain))
        .route("/vcek/v1/{product}/crl", get(vcek_crl))
        .route("/vlek/v1/{product}/crl", get(vlek_crl))
        .route("/vlek/v1/{product}/cert", get(vlek_cert))
        .route("/vcek/v1/{product}/{hwid}", get(vcek_cert))
}

/// The KDS product path component: exactly `Milan`, `Genoa` or `Turin`.
fn product(s: &str) -> Option<Product> {
    Product::ALL.into_iter().find(|p| p.name() == s)
}

fn unknown_product(s: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("unknown product {s:?}"))
}

fn chain(s: &str, e: Endorsement) -> Response {
    match product(s) {
        Some(p) => (
            [(header::CONTENT_TYPE, PEM_FILE)],
            vendor(p).cert_chain_pem(e),
        )
            .into_response(),
        None => unknown_product(s),
    }
}

async fn vcek_chain(Path(p): Path<String>) -> Response {
    chain(&p, Endorsement::Vcek)
}

async fn vlek_chain(Path(p): Path<String>) -> Response {
    chain(&p, Endorsement::Vlek)
}

async fn crl(state: Shared, s: String, e: Endorsement) -> Response {
    let Some(p) = product(&s) else {
        return unknown_product(&s);
    };
    // The ARK's CRL lists this product's revoked ASK/ASVK (snp.md §2.3).
    let (_, ask, asvk) = p.ca_serials();
    let revoked: Vec<u32> = [ask, asvk]
        .into_iter()
        .filter(|s| state.revocation(&s.to_be_bytes()).is_some())
        .collect();
    let this_update = sim_core::time::ISSUE_EPOCH;
    let key = (
        e,
        p,
        revoked.iter().flat_map(|s| s.to_be_bytes()).collect(),
        CRL_TAG,
    );
    let st = state.clone();
    let r = tokio::task::spawn_blocking(move || {
        st.kds
            .cached(key, || vendor(p).crl(e, &revoked, this_update).ok())
    })
    .await
    .ok()
    .flatten();
    match r {
        Some(der) => ([(header::CONTENT_TYPE, PKIX_CRL)], der.as_ref().clone()).into_response(),
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "issuing the CRL failed"),
    }
}

async fn vcek_crl(State(s): State<Shared>, Path(p): Path<String>) -> Response {
    crl(s, p, Endorsement::Vcek).await
}

async fn vlek_crl(State(s): State<Shared>, Path(p): Path<String>) -> Response {
    crl(s, p, Endorsement::Vlek).await
}

/// Parses the SPL query parameters of `product` into a TCB (400 on a missing or bad one).
pub fn tcb_from_query(product: Product, q: &HashMap<String, String>) -> Result<TcbVersion, String> {
    let spl = |name: &str| -> Result<u8, String> {
        let v = q
            .get(name)
            .ok_or_else(|| format!("missing query parameter {name}"))?;
        if v.is_empty() || v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{name}={v:?}: expected a decimal number 0-255"));
        }
        v.parse::<u8>()
            .map_err(|_| format!("{name}={v}: expected a decimal number 0-255"))
    };
    let bl = spl("blSPL")?;
    let tee = spl("teeSPL")?;
    let snp = spl("snpSPL")?;
    let ucode = spl("ucodeSPL")?;
    match product {
        Product::Turin => Ok(TcbVersion::turin(spl("fmcSPL")?, bl, tee, snp, ucode)),
        _ => {
            if q.contains_key("fmcSPL") {
                return Err(format!("fmcSPL is not a {} parameter", product.name()));
            }
            Ok(TcbVersion::legacy(bl, tee, snp, ucode))
        }
    }
}

fn der_response(r: Option<Arc<Vec<u8>>>) -> Response {
    match r {
        Some(der) => ([(header::CONTENT_TYPE, PKIX_CERT)], der.as_ref().clone()).into_response(),
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "issuing the certificate failed",
        ),
    }
}

async fn vcek_cert(
    State(s): State<Shared>,
    Path((p, hwid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(p) = product(&p) else {
        return unknown_product(&p);
    };
    let want = p.hwid_len() * 2;
    if hwid.len() != want || !hwid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "hwid: expected {want} hex digits for {} (got {})",
                p.name(),
                hwid.len()
            ),
        );
    }
    let hw = match hex::decode(&hwid) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("hwid: {e}")),
    };
    let tcb = match tcb_from_query(p, &q) {
        Ok(t) => t,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let Some(chip) = s.kds.chip(p, &hw) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no simulated {} chip has hwid {hwid}", p.name()),
        );
    };
    let key = (Endorsement::Vcek, p, hw, tcb.to_bytes(p.tcb_layout()));
    let st = s.clone();
    let r = tokio::task::spawn_blocking(move || {
        st.kds.cached(key, || {
            chip.vcek_cert(&tcb, sim_core::time::ISSUE_EPOCH).ok()
        })
    })
    .await
    .ok()
    .flatten();
    der_response(r)
}

async fn vlek_cert(
    State(s): State<Shared>,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(p) = product(&p) else {
        return unknown_product(&p);
    };
    let tcb = match tcb_from_query(p, &q) {
        Ok(t) => t,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let Some(plat) = s
        .kds
        .vlek
        .iter()
        .find(|(x, _)| *x == p)
        .map(|(_, c)| c.clone())
    else {
        return error(StatusCode::NOT_FOUND, "no VLEK provisioned");
    };
    let key = (
        Endorsement::Vlek,
        p,
        Vec::new(),
        tcb.to_bytes(p.tcb_layout()),
    );
    let st = s.clone();
    let r = tokio::task::spawn_blocking(move || {
        st.kds.cached(key, || {
            plat.vlek_cert(&tcb, sim_core::time::ISSUE_EPOCH)
                .and_then(|r| r.ok())
        })
    })
    .await
    .ok()
    .flatten();
    der_response(r)
}
