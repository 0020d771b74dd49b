//! `cvmsim serve`: the vendor services a verifier calls, answering with the simulated PKI, on loopback.
//!
//! | service | routes | module |
//! | --- | --- | --- |
//! | AMD KDS (snp.md §2.3) | `/vcek/v1/{product}/cert_chain`, `/vcek/v1/{product}/crl`, `/vcek/v1/{product}/{hwid}?..SPL=`, `/vlek/v1/{product}/{cert_chain,crl,cert}` | [`kds`] |
//! | Intel PCS v4 (tdx.md §3.3-3.4) | `/tdx/certification/v4/{tcb,qe/identity}`, `/sgx/certification/v4/{pckcrl,rootcacrl,pckcert}` | [`pcs`] |
//! | NVIDIA RIM service (gpu.md §4.4) | `/v1/rim/{id}`, `/v1/rim/ids` | [`nvidia`] |
//! | NVIDIA OCSP (gpu.md §3.2, RFC 6960) | `POST /`, `POST /ocsp`, `GET /ocsp/{base64 request}` | [`nvidia`] |
//! | revocation admin | `GET /admin/revoked`, `PUT`/`DELETE /admin/revoked/{serial or name}` | here |
//!
//! The server binds loopback addresses only. Every request is logged on stderr (method, path, status,
//! microseconds) unless `quiet`. SIGINT and SIGTERM stop it gracefully: the listener closes, requests
//! in flight finish.

pub mod kds;
pub mod nvidia;
pub mod pcs;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// How the server is set up.
#[derive(Clone, Debug, Default)]
pub struct ServeConfig {
    /// Seeds of the simulated chips and devices served (`cvmsim snp report --seed`, `gpu evidence --seed`).
    pub seeds: Vec<u64>,
    /// Fixed time for OCSP `producedAt`/`thisUpdate` (Unix seconds); `None`: the system clock.
    pub now: Option<i64>,
    /// Certificates revoked from the start (serials as hex, or CA names: see [`nvidia::ca_names`]).
    pub revoke: Vec<String>,
    /// Signed RIM files (`<RIM id>.xml`) served in place of the derived ones.
    pub rims_dir: Option<PathBuf>,
    /// No request log.
    pub quiet: bool,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not a loopback address.
    #[error("--addr {0}: only loopback addresses (127.0.0.0/8, ::1) are served")]
    NotLoopback(SocketAddr),
    /// A `--revoke` value is neither a hex serial nor a CA name.
    #[error("--revoke {0}: {1}")]
    BadRevoke(String, String),
    /// Reading `--rims`.
    #[error("--rims {0}: {1}")]
    Rims(String, String),
    /// Building a simulated PKI.
    #[error("building the simulated PKI: {0}")]
    Pki(String),
    /// Socket errors.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One revoked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// When it was revoked (Unix seconds).
    pub at: i64,
    /// CRLReason code (RFC 5280 §5.3.1): 1 keyCompromise, 6 certificateHold.
    pub reason: u8,
}

/// Serials (big-endian, no leading zero bytes) revoked now.
pub type Revoked = Mutex<BTreeMap<Vec<u8>, Revocation>>;

/// Shared server state.
pub struct AppState {
    /// The configuration.
    pub config: ServeConfig,
    /// KDS state.
    pub kds: kds::Kds,
    /// NVIDIA RIM service and OCSP responder state.
    pub nvidia: nvidia::Nvidia,
    /// Intel PCS state.
    pub pcs: pcs::PcsHolder,
    /// Revoked serials (OCSP and CRLs).
    pub revoked: Revoked,
}

impl AppState {
    /// Builds the state: the simulated chips and devices of every seed, the CAs, the revocation list.
    pub fn new(config: ServeConfig) -> Result<AppState, ServeError> {
        let mut config = config;
        if config.seeds.is_empty() {
            config.seeds.push(0);
        }
        let kds = kds::Kds::new(&config.seeds);
        let nvidia = nvidia::Nvidia::new(&config)?;
        let pcs = pcs::PcsHolder::new(&config.seeds);
        let state = AppState {
            kds,
            nvidia,
            pcs,
            revoked: Mutex::new(BTreeMap::new()),
            config,
        };
        let t = state.now();
        for r in state.config.revoke.clone() {
            let (serial, reason) = state.parse_revoke(&r)?;
            if let Ok(mut m) = state.revoked.lock() {
                m.insert(serial, Revocation { at: t, reason });
            }
        }
        state.pcs.get(&state)?;
        Ok(state)
    }

    /// The time responses are dated with.
    pub fn now(&self) -> i64 {
        self.config.now.unwrap_or_else(sim_core::time::now)
    }

    /// Parses `SERIAL[:hold]` or `NAME[:hold]` into a normalised serial and a CRLReason.
    pub fn parse_revoke(&self, s: &str) -> Result<(Vec<u8>, u8), ServeError> {
        let (what, reason) = match s.split_once(':') {
            Some((w, "hold")) => (w, 6),
            Some((w, "key-compromise")) => (w, 1),
            Some((_, r)) => {
                return Err(ServeError::BadRevoke(
                    s.into(),
                    format!("reason {r:?}: expected hold or key-compromise"),
                ))
            }
            None => (s, 1),
        };
        if let Some(serial) = self
            .nvidia
            .serial_by_name(what)
            .or_else(|| self.pcs.serial_by_name(what))
        {
            return Ok((serial, reason));
        }
        let hex_str = if what.len() % 2 == 1 {
            format!("0{what}")
        } else {
            what.to_string()
        };
        let bytes = hex::decode(&hex_str).map_err(|_| {
            ServeError::BadRevoke(
                s.into(),
                format!(
                    "expected a hex serial or one of {}",
                    nvidia::ca_names().join(", ")
                ),
            )
        })?;
        Ok((normalise_serial(&bytes), reason))
    }

    /// The revocation of `serial`, if revoked.
    pub fn revocation(&self, serial: &[u8]) -> Option<Revocation> {
        let key = normalise_serial(serial);
        self.revoked.lock().ok()?.get(&key).copied()
    }
}

/// A serial without leading zero bytes (DER INTEGERs of positive serials carry one when the top bit is set).
pub fn normalise_serial(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default().to_vec()
}

/// The shared state handle of every handler.
pub type Shared = Arc<AppState>;

/// The whole service: every route of every vendor, with request logging.
pub fn router(state: Shared) -> Router {
    let quiet = state.config.quiet;
    let app = Router::new()
        .merge(kds::routes())
        .merge(nvidia::routes())
        .merge(pcs::routes())
        .route("/admin/revoked", get(admin_list))
        .route(
            "/admin/revoked/{serial}",
            axum::routing::put(admin_revoke).delete(admin_unrevoke),
        )
        .fallback(not_found)
        .with_state(state);
    if quiet {
        app
    } else {
        app.layer(axum::middleware::from_fn(log_request))
    }
}

async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let resp = next.run(req).await;
    eprintln!(
        "cvmsim serve: {} {} {} {}us",
        method,
        uri,
        resp.status().as_u16(),
        start.elapsed().as_micros()
    );
    resp
}

/// 404 with a short text body (unknown path).
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found\n").into_response()
}

/// A plain-text error response.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        m,
    )
        .into_response()
}

async fn admin_list(State(s): State<Shared>) -> Response {
    let list: Vec<serde_json::Value> = s
        .revoked
        .lock()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    serde_json::json!({
                        "serial": hex::encode(k),
                        "revoked_at": sim_core::time::to_rfc3339(v.at),
                        "reason": v.reason,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    axum::Json(serde_json::json!({ "revoked": list })).into_response()
}

#[derive(serde::Deserialize)]
struct ReasonQuery {
    reason: Option<String>,
}

async fn admin_revoke(
    State(s): State<Shared>,
    Path(serial): Path<String>,
    Query(q): Query<ReasonQuery>,
) -> Response {
    let arg = match q.reason {
        Some(r) => format!("{serial}:{r}"),
        None => serial,
    };
    match s.parse_revoke(&arg) {
        Ok((serial, reason)) => {
            let at = s.now();
            if let Ok(mut m) = s.revoked.lock() {
                m.insert(serial, Revocation { at, reason });
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn admin_unrevoke(State(s): State<Shared>, Path(serial): Path<String>) -> Response {
    match s.parse_revoke(&serial) {
        Ok((serial, _)) => {
            let removed = s
                .revoked
                .lock()
                .map(|mut m| m.remove(&serial).is_some())
                .unwrap_or(false);
            if removed {
                StatusCode::NO_CONTENT.into_response()
            } else {
                error(StatusCode::NOT_FOUND, "not revoked")
            }
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// Binds `addr` (loopback only) and returns the listener with its bound address (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// How long requests in flight may take to finish after the shutdown signal before the server
/// closes their connections anyway (a client stalled mid-request must not keep it alive).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves on `listener` until `shutdown` completes, then lets the requests in flight finish for at most
/// [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signalled = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(signalled);
    let deadline = async move {
        if rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = server => r?,
        _ = deadline => eprintln!("cvmsim serve: requests still open after {SHUTDOWN_GRACE:?}, closing them"),
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
