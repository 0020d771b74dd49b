//! `cvmsim serve`: the AMD KDS, Intel PCS, NVIDIA RIM and OCSP services for the simulated PKI, on loopback.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{CmdResult, Failure};
use crate::serve::{self, AppState, ServeConfig};

/// `cvmsim serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback only; port 0 picks a free port). The bound URL is printed on
    /// stdout, one line, as soon as the server accepts connections.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Seed of the simulated chips and devices served (repeat for several).
    #[arg(long = "seed")]
    pub seeds: Vec<u64>,
    /// Revoke a certificate from the start: a hex serial, or device-l1|device-l2|device-l3|rim-root|
    /// rim-ca|rim-l3|rim-signer|ik-SEED|ak-SEED|pck-SEED; append `:hold` for certificateHold (repeatable).
    #[arg(long)]
    pub revoke: Vec<String>,
    /// Serve the signed RIMs of this folder (`<RIM id>.xml`, as `cvmsim gpu evidence` writes them)
    /// in place of the derived ones.
    #[arg(long)]
    pub rims: Option<PathBuf>,
    /// Date OCSP answers at this time (RFC 3339) instead of the system clock.
    #[arg(long)]
    pub now: Option<String>,
    /// Do not log requests on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(a: ServeArgs) -> CmdResult {
    let now = match &a.now {
        Some(s) => Some(sim_core::time::parse_rfc3339(s).map_err(Failure::Input)?),
        None => None,
    };
    let config = ServeConfig {
        seeds: a.seeds,
        now,
        revoke: a.revoke,
        rims_dir: a.rims,
        quiet: a.quiet,
    };
    let state = Arc::new(AppState::new(config)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (listener, local) = serve::bind(a.addr).await?;
        println!("http://{local}");
        std::io::stdout().flush()?;
        eprintln!(
            "cvmsim serve: listening on http://{local} (seeds {:?})",
            state.config.seeds
        );
        serve::serve(listener, state, serve::shutdown_signal()).await?;
        eprintln!("cvmsim serve: shut down");
        Ok::<(), serve::ServeError>(())
    })?;
    Ok(())
}
