//! `cvmsim-load`: a bounded HTTP/1.1 load test for `cvmsim serve`, run as its own process.
//!
//! `cvmsim-load --url http://127.0.0.1:PORT --requests N --connections C --get PATH [--get PATH ...]
//! [--timeout SECS]` opens C keep-alive connections and sends N GET requests in all, cycling through
//! the paths, each connection one request at a time. It prints one JSON document on stdout:
//! `{"requests", "connections", "ok", "errors", "by_status", "seconds", "requests_per_second"}`.
//! Exit 0 when every request got 200, 1 when any failed or the time ran out, 2 on a usage error.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Load-test client for `cvmsim serve`.
#[derive(Debug, Parser)]
#[command(name = "cvmsim-load")]
struct Args {
    /// Base URL (`http://127.0.0.1:PORT`, loopback only).
    #[arg(long)]
    url: String,
    /// Requests in all.
    #[arg(long, default_value_t = 10_000)]
    requests: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: u64,
    /// Path to GET (repeat; requests cycle through them).
    #[arg(long = "get", required = true)]
    paths: Vec<String>,
    /// Give up after this many seconds (the unfinished requests count as errors).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    by_status: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn record(&self, status: String, ok: bool) {
        if ok {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut m) = self.by_status.lock() {
            *m.entry(status).or_default() += 1;
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: &str) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn worker(
    addr: String,
    paths: Arc<Vec<String>>,
    first: u64,
    count: u64,
    step: u64,
    tally: Arc<Tally>,
) {
    let mut sender: Option<Sender> = None;
    for k in 0..count {
        let i = first + k * step;
        let path = paths
            .get(usize::try_from(i).unwrap_or(0) % paths.len().max(1))
            .cloned()
            .unwrap_or_else(|| "/".into());
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            match connect(&addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    tally.record(format!("connect: {e}"), false);
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let req = match hyper::Request::get(path.as_str())
            .header(hyper::header::HOST, addr.as_str())
            .body(Empty::<Bytes>::new())
        {
            Ok(r) => r,
            Err(e) => {
                tally.record(format!("request: {e}"), false);
                continue;
            }
        };
        if s.ready().await.is_err() {
            sender = None;
            tally.record("connection closed".into(), false);
            continue;
        }
        match s.send_request(req).await {
            Ok(resp) => {
                let status = resp.status();
                match resp.into_body().collect().await.map(|b| b.to_bytes()) {
                    Ok(b) if status.is_success() && !b.is_empty() => {
                        tally.record(status.as_u16().to_string(), true)
                    }
                    Ok(_) => tally.record(status.as_u16().to_string(), false),
                    Err(e) => tally.record(format!("body: {e}"), false),
                }
            }
            Err(e) => {
                sender = None;
                tally.record(format!("send: {e}"), false);
            }
        }
    }
}

fn main() -> ExitCode {
    let a = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let Some(addr) = a
        .url
        .strip_prefix("http://")
        .map(|s| s.trim_end_matches('/').to_string())
    else {
        eprintln!("cvmsim-load: --url {}: expected http://HOST:PORT", a.url);
        return ExitCode::from(2);
    };
    let loopback = addr
        .parse::<std::net::SocketAddr>()
        .map(|s| s.ip().is_loopback())
        .unwrap_or(false);
    if !loopback || a.connections == 0 {
        eprintln!("cvmsim-load: --url must be a loopback IP:PORT and --connections at least 1");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cvmsim-load: {e}");
            return ExitCode::from(2);
        }
    };
    let tally = Arc::new(Tally::default());
    let paths = Arc::new(a.paths.clone());
    let start = Instant::now();
    let finished = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..a.connections {
            // Connection c sends requests c, c + C, c + 2C, ...
            let count = a.requests / a.connections + u64::from(c < a.requests % a.connections);
            tasks.push(tokio::spawn(worker(
                addr.clone(),
                paths.clone(),
                c,
                count,
                a.connections,
                tally.clone(),
            )));
        }
        tokio::time::timeout(Duration::from_secs(a.timeout), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await
        .is_ok()
    });
    let secs = start.elapsed().as_secs_f64();
    let ok = tally.ok.load(Ordering::Relaxed);
    let mut errors = tally.errors.load(Ordering::Relaxed);
    if !finished {
        errors = a.requests.saturating_sub(ok);
    }
    let by_status = tally
        .by_status
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let doc = serde_json::json!({
        "requests": a.requests,
        "connections": a.connections,
        "ok": ok,
        "errors": errors,
        "finished": finished,
        "by_status": by_status,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "requests_per_second": if secs > 0.0 { (ok as f64 / secs).round() } else { 0.0 },
    });
    println!("{doc}");
    rt.shutdown_timeout(Duration::from_secs(1));
    if errors == 0 && ok == a.requests {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
