//! SNP memory-model speed: the engine on 4 KiB pages and a private guest 4 KiB write + read through the
//! RMP checks, beside `openssl speed -evp aes-128-xts -bytes 4096` run in the same process; the cost of
//! one RMP-checked access; bytes of host memory per touched page.
//!
//! `cargo bench -p sim-snp --bench memory`. The summary at the end reads criterion's median estimates.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use sim_core::rules::RuleSet;
use sim_snp::memory::engine::Engine;
use sim_snp::memory::machine::Access;
use sim_snp::memory::op::Op;
use sim_snp::memory::{policy, Machine, MachineConfig, PageSize};

const GROUP: &str = "snp-memory";

/// Guest 1 (AES-128 XEX) and guest 2 (AES-256-XTS), each with GPA 0x1000 validated.
fn machine() -> Machine {
    let mut m = Machine::new(MachineConfig::default(), RuleSet::all()).unwrap();
    for (asid, pol, spa) in [
        (1, policy::MINIMAL, 0x20_0000),
        (2, policy::MINIMAL | policy::MEM_AES_256_XTS, 0x20_1000),
    ] {
        m.launch_start(asid, pol).unwrap();
        let upd = Op::RmpUpdate {
            spa,
            gpa: 0x1000,
            assigned: true,
            size: PageSize::Size4K,
            immutable: false,
            asid,
        };
        upd.execute(&mut m).unwrap();
        m.npt_map(asid, 0x1000, spa, PageSize::Size4K).unwrap();
        m.pvalidate(asid, 0, 0x1000, PageSize::Size4K, true)
            .unwrap();
    }
    m
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group(GROUP);
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(40);

    g.throughput(Throughput::Bytes(4096));
    let xex = Engine::xex128(&[7u8; 16]);
    let xts = Engine::xts256(&[7u8; 32], &[9u8; 32]);
    let mut page = [0x5Au8; 4096];
    g.bench_function("engine-xex128-encrypt-4k", |b| {
        b.iter(|| xex.encrypt_page(black_box(0x20_0000), black_box(&mut page)))
    });
    g.bench_function("engine-xts256-encrypt-4k", |b| {
        b.iter(|| xts.encrypt_page(black_box(0x20_0000), black_box(&mut page)))
    });

    // Bytes through the engine per iteration: 4 KiB written, 4 KiB read.
    g.throughput(Throughput::Bytes(8192));
    let mut m = machine();
    let data = [0xA5u8; 4096];
    let mut out = [0u8; 4096];
    for (name, asid) in [
        ("guest-private-write-read-4k-xex128", 1),
        ("guest-private-write-read-4k-xts256", 2),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                m.guest_write_private(asid, 0, 0x1000, black_box(&data))
                    .unwrap();
                m.guest_read_private_into(asid, 0, 0x1000, black_box(&mut out))
                    .unwrap();
            })
        });
    }

    g.throughput(Throughput::Elements(1));
    g.bench_function("rmp-checked-access", |b| {
        b.iter(|| {
            m.check_private(1, 0, black_box(0x1000), Access::Read)
                .unwrap()
        })
    });
    let mut small = [0u8; 8];
    g.bench_function("guest-private-read-8b", |b| {
        b.iter(|| {
            m.guest_read_private_into(1, 0, black_box(0x1008), &mut small)
                .unwrap()
        })
    });
    g.finish();
}

fn criterion_dir() -> PathBuf {
    // target/<profile>/deps/memory-HASH -> target/criterion
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map(|t| t.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Median time of one iteration in nanoseconds, from criterion's estimates (robust on a shared machine),
/// if that benchmark ran in this process (a filtered run leaves older estimates on disk).
fn median_ns(dir: &std::path::Path, bench: &str) -> Option<f64> {
    let p = dir.join(GROUP).join(bench).join("new/estimates.json");
    if std::fs::metadata(&p).ok()?.modified().ok()? < *STARTED.get()? {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn openssl_xts_mb_s() -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-elapsed",
            "-seconds",
            "3",
            "-evp",
            "aes-128-xts",
            "-bytes",
            "4096",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "AES-128-XTS    5702874.92k" (1000s of bytes per second)
    let line = text
        .lines()
        .rev()
        .find(|l| l.to_ascii_uppercase().starts_with("AES-128-XTS"))?;
    let k: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(k / 1000.0)
}

fn bytes_per_touched_page(stride: u64, n: u64) -> f64 {
    let mut m = Machine::new(MachineConfig::default(), RuleSet::all()).unwrap();
    m.launch_start(1, policy::MINIMAL).unwrap();
    let before = m.bytes_used();
    for i in 0..n {
        let spa = 0x100_0000 + i * stride;
        let upd = Op::RmpUpdate {
            spa,
            gpa: i * 0x1000,
            assigned: true,
            size: PageSize::Size4K,
            immutable: false,
            asid: 1,
        };
        upd.execute(&mut m).unwrap();
        m.npt_map(1, i * 0x1000, spa, PageSize::Size4K).unwrap();
        m.pvalidate(1, 0, i * 0x1000, PageSize::Size4K, true)
            .unwrap();
        m.guest_write_private(1, 0, i * 0x1000, &[1u8; 64]).unwrap();
    }
    (m.bytes_used() - before) as f64 / n as f64
}

fn summary(dir: &std::path::Path) {
    println!("\n== SNP memory model: summary (criterion medians, OpenSSL measured now) ==");
    let ossl = openssl_xts_mb_s();
    match ossl {
        Some(v) => println!("openssl speed -evp aes-128-xts -bytes 4096 : {v:9.1} MB/s"),
        None => println!("openssl speed -evp aes-128-xts -bytes 4096 : (openssl not available)"),
    }
    let mbs = |ns: f64, bytes: f64| bytes / ns * 1e9 / 1e6;
    for (label, bench) in [
        (
            "engine AES-128-XEX encrypt 4 KiB page     ",
            "engine-xex128-encrypt-4k",
        ),
        (
            "engine AES-256-XTS encrypt 4 KiB page     ",
            "engine-xts256-encrypt-4k",
        ),
    ] {
        if let Some(ns) = median_ns(dir, bench) {
            let v = mbs(ns, 4096.0);
            let pct = ossl.map(|o| format!(" ({:.0}% of OpenSSL AES-128-XTS)", 100.0 * v / o));
            println!("{label}: {v:9.1} MB/s{}", pct.unwrap_or_default());
        }
    }
    for (label, bench) in [
        (
            "guest private 4 KiB write+read, XEX-128   ",
            "guest-private-write-read-4k-xex128",
        ),
        (
            "guest private 4 KiB write+read, XTS-256   ",
            "guest-private-write-read-4k-xts256",
        ),
    ] {
        if let Some(ns) = median_ns(dir, bench) {
            println!(
                "{label}: {:9.1} MB/s through the engine ({:.1} MB/s of 4 KiB write+read pairs, {ns:.0} ns a pair)",
                mbs(ns, 8192.0),
                mbs(ns, 4096.0)
            );
        }
    }
    if let Some(ns) = median_ns(dir, "rmp-checked-access") {
        println!("RMP-checked access (NPT + Table 15-39 checks): {ns:6.1} ns");
    }
    if let Some(ns) = median_ns(dir, "guest-private-read-8b") {
        println!("private 8-byte guest read (checks + 1 block) : {ns:6.1} ns");
    }
    println!(
        "host bytes per touched page: {:.0} (contiguous pages), {:.0} (pages 1 MiB apart: one RMP frame each); RMP: 16 bytes per 4 KiB page covered",
        bytes_per_touched_page(0x1000, 4096),
        bytes_per_touched_page(0x10_0000, 512)
    );
}

/// When this process started benchmarking.
static STARTED: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

fn main() {
    let _ = STARTED.set(std::time::SystemTime::now());
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
    summary(&dir);
}
