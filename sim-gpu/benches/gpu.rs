//! Evidence issued and verified per second; CPU↔GPU channel throughput on 4 KiB pages, beside
//! `openssl speed -evp aes-256-gcm -bytes 4096` measured in the same run.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use sim_gpu::channel::{Channel, PAGE};
use sim_gpu::device::{DeviceConfig, H100};

fn evidence(c: &mut Criterion) {
    let dev = H100::new(DeviceConfig::new(0)).unwrap();
    let ev = sim_gpu::evidence::issue(DeviceConfig::new(0), [7; 32], None).unwrap();
    let root = sim_core::x509::pem_certs(&ev.root_pem).unwrap().remove(0);
    let rim_root = sim_core::x509::pem_certs(&ev.rim_root_pem)
        .unwrap()
        .remove(0);
    let opts = sim_gpu::verify::Options {
        nonce: Some([7; 32]),
        now: sim_core::time::ISSUE_EPOCH + 86_400,
        allow_trailing_bytes: false,
    };
    let mut g = c.benchmark_group("gpu-evidence");
    g.throughput(Throughput::Elements(1));
    g.bench_function("issue GET_MEASUREMENTS report (sign)", |b| {
        let mut n = [0u8; 32];
        b.iter(|| {
            n[0] = n[0].wrapping_add(1);
            dev.get_measurements(n).unwrap()
        })
    });
    g.bench_function("verify report + 5-cert chain", |b| {
        b.iter(|| {
            let v = sim_gpu::verify::verify(&ev.report, &ev.chain_pem, &root, None, &opts);
            assert!(v.is_valid());
        })
    });
    g.bench_function("verify report + chain + 2 RIMs", |b| {
        let rims = sim_gpu::verify::RimInputs {
            driver: &ev.rims[0].1,
            vbios: &ev.rims[1].1,
            root_der: &rim_root,
        };
        b.iter(|| {
            let v = sim_gpu::verify::verify(&ev.report, &ev.chain_pem, &root, Some(rims), &opts);
            assert!(v.is_valid());
        })
    });
    g.finish();
}

fn channel(c: &mut Criterion) {
    let pages = 64;
    let data = vec![0xa5u8; pages * PAGE];
    let mut g = c.benchmark_group("gpu-channel");
    g.throughput(Throughput::Bytes((pages * PAGE) as u64));
    g.bench_function("cpu encrypt 64 x 4 KiB pages (AES-256-GCM)", |b| {
        let mut ch = Channel::new(0, 0);
        b.iter(|| ch.cpu_encrypt(&data).unwrap())
    });
    g.bench_function("encrypt + gpu decrypt 64 x 4 KiB pages", |b| {
        let mut ch = Channel::new(0, 0);
        b.iter(|| {
            let (sb, n) = ch.cpu_encrypt(&data).unwrap();
            ch.gpu_decrypt(&sb, n).unwrap()
        })
    });
    g.finish();
}

/// The peer: OpenSSL's AES-256-GCM rate on 4 KiB blocks, measured now, on this machine.
fn openssl_peer() {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            "4096",
            "-seconds",
            "2",
        ])
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            let line = text
                .lines()
                .rev()
                .find(|l| l.to_lowercase().starts_with("aes-256-gcm"))
                .unwrap_or("");
            // "aes-256-gcm   1234567.89k" = thousands of bytes per second.
            let kb: f64 = line
                .split_whitespace()
                .last()
                .and_then(|v| v.trim_end_matches('k').parse().ok())
                .unwrap_or(0.0);
            println!(
                "peer: openssl speed -evp aes-256-gcm -bytes 4096: {:.1} MB/s ({line})",
                kb * 1000.0 / 1e6
            );
        }
        Err(e) => println!("peer: openssl not available: {e}"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = evidence, channel
}

fn main() {
    openssl_peer();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
