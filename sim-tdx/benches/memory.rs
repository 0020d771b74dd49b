//! TDX memory model speed: a private 4 KiB TD write and read through the SEPT translation and the
//! TME-MK engine with cryptographic integrity, beside OpenSSL's AES-XTS on 4 KiB blocks measured in the
//! same run (`openssl speed -evp aes-128-xts -bytes 4096`), and the cost of one SEAMCALL.
//!
//! Throughput counts the bytes the engine en- or decrypts: 4 KiB for a write, 4 KiB for a read, 8 KiB
//! for a write plus a read, so each figure compares directly with OpenSSL's one-direction rate.
//!
//! `cargo bench -p sim-tdx --bench memory`. Two summaries follow criterion's figures: criterion's medians
//! against the faster of two OpenSSL runs (one before, one after the engine's benchmarks), and five
//! interleaved 1-second samples of each side (`openssl speed`, then the engine's write+read), compared
//! best with best and median with median.

// criterion_group!/criterion_main! generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_core::rules::RuleSet;
use sim_tdx::memory::guest::GuestEvent;
use sim_tdx::memory::lab::{self, Run, POOL, TD_A};
use sim_tdx::memory::tme::{IntegrityMode, PAGE_SIZE};
use sim_tdx::memory::{Config, Event, Op, TdxModule};

fn running_td(mode: IntegrityMode) -> TdxModule {
    let mut m = TdxModule::new(
        Config {
            frames: 2048,
            integrity: mode,
            seed: 0,
        },
        RuleSet::all(),
    );
    let mut r = Run::new(&mut m);
    assert!(lab::build(&mut r, &TD_A, 0, &[POOL]));
    assert!(matches!(
        r.op(Op::VpEnter { tdvpr: TD_A.tdvpr }),
        Event::Enter(Ok(_))
    ));
    m
}

/// OpenSSL's AES-128-XTS rate on 4 KiB blocks, in MB/s (10^6 bytes), from `openssl speed`. `-elapsed`
/// makes it wall-clock time like criterion's (by default `openssl speed` divides by its own CPU time,
/// which on a shared machine flatters it against any wall-clock measurement).
fn openssl_xts_mbps() -> Option<f64> {
    openssl_xts_mbps_for(3)
}

/// [`openssl_xts_mbps`] over `seconds`.
fn openssl_xts_mbps_for(seconds: u32) -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-128-xts",
            "-bytes",
            "4096",
            "-elapsed",
            "-seconds",
            &seconds.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("aes-128-xts"))?;
    let k: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(k * 1000.0 / 1e6)
}

/// The engine's write+read rate over `dur` of wall-clock time, in MB/s (10^6 bytes, both directions
/// counted, as in criterion's figure).
fn engine_mbps(m: &mut TdxModule, dur: Duration) -> f64 {
    let page = [0x5Au8; PAGE_SIZE];
    let mut out = [0u8; PAGE_SIZE];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        for _ in 0..64 {
            m.guest_write_page(TD_A.tdvpr, 0, black_box(&page));
            m.guest_read_page(TD_A.tdvpr, 0, black_box(&mut out));
        }
        n += 64;
    }
    (n * 2 * PAGE_SIZE as u64) as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// criterion's output directory: target/<profile>/deps/memory-HASH -> target/criterion.
fn criterion_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// criterion's median time of one iteration of `group/bench`, in nanoseconds, if that benchmark ran
/// in this process (written after `since`; a filtered run leaves older estimates on disk).
fn median_ns(group: &str, bench: &str, since: SystemTime) -> Option<f64> {
    let p = criterion_dir()
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    if std::fs::metadata(&p).ok()?.modified().ok()? < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn bench(c: &mut Criterion) {
    let started = SystemTime::now();
    let openssl = openssl_xts_mbps();
    match openssl {
        Some(v) => println!("openssl speed -elapsed -evp aes-128-xts -bytes 4096: {v:.0} MB/s"),
        None => println!("openssl speed -elapsed -evp aes-128-xts -bytes 4096: not available"),
    }

    let mut m = running_td(IntegrityMode::Cryptographic);
    let page = [0x5Au8; PAGE_SIZE];
    let mut out = [0u8; PAGE_SIZE];
    assert_eq!(m.guest_write_page(TD_A.tdvpr, 0, &page), GuestEvent::Done);
    assert_eq!(m.guest_read_page(TD_A.tdvpr, 0, &mut out), GuestEvent::Done);
    assert_eq!(out, page);

    let mut g = c.benchmark_group("tdx-private-4k-ci");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(PAGE_SIZE as u64));
    g.bench_function("td-write", |b| {
        b.iter(|| m.guest_write_page(TD_A.tdvpr, 0, black_box(&page)))
    });
    g.bench_function("td-read", |b| {
        b.iter(|| m.guest_read_page(TD_A.tdvpr, 0, black_box(&mut out)))
    });
    g.throughput(Throughput::Bytes(2 * PAGE_SIZE as u64));
    g.bench_function("td-write+read", |b| {
        b.iter(|| {
            m.guest_write_page(TD_A.tdvpr, 0, black_box(&page));
            m.guest_read_page(TD_A.tdvpr, 0, black_box(&mut out))
        })
    });
    g.finish();

    // The ceiling the engine works under: the aes crate's raw multi-block AES-128 on 256 blocks.
    let mut g = c.benchmark_group("aes-crate-ceiling");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(PAGE_SIZE as u64));
    let aes = Aes128::new(&[7u8; 16].into());
    let mut blocks = vec![Block::default(); PAGE_SIZE / 16];
    g.bench_function("encrypt_blocks-4k", |b| {
        b.iter(|| aes.encrypt_blocks(black_box(&mut blocks)))
    });
    g.finish();

    // The machine is shared: measure OpenSSL again right after the engine and compare against the
    // faster of the two OpenSSL runs (the conservative ratio).
    let again = openssl_xts_mbps();
    if let Some(v) = again {
        println!("openssl speed -elapsed -evp aes-128-xts -bytes 4096 (again): {v:.0} MB/s");
    }
    let best = openssl.into_iter().chain(again).reduce(f64::max);
    for (label, bench, bytes) in [
        ("engine write (Ci)", "td-write", PAGE_SIZE),
        ("engine read (Ci)", "td-read", PAGE_SIZE),
        ("engine write+read (Ci)", "td-write+read", 2 * PAGE_SIZE),
    ] {
        let Some(ns) = median_ns("tdx-private-4k-ci", bench, started) else {
            continue;
        };
        let mbps = bytes as f64 / ns * 1e3;
        match best {
            Some(v) => println!(
                "{label}: {mbps:.0} MB/s (criterion median) = {:.2} x openssl aes-128-xts 4 KiB (best {v:.0} MB/s)",
                mbps / v
            ),
            None => println!("{label}: {mbps:.0} MB/s (criterion median)"),
        }
    }

    // Interleaved samples: five times `openssl speed` for 1 s, then the engine's write+read for 1 s.
    // The same estimators on both sides (best and median of five), so a slow phase of a shared
    // machine is seen by both.
    let (mut ossl, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let Some(o) = openssl_xts_mbps_for(1) else {
            break;
        };
        ossl.push(o);
        ours.push(engine_mbps(&mut m, Duration::from_secs(1)));
    }
    if !ossl.is_empty() {
        let stats = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[v.len() - 1], v[v.len() / 2])
        };
        let ((ob, om), (eb, em)) = (stats(&mut ossl), stats(&mut ours));
        println!(
            "interleaved 1 s samples: openssl best {ob:.0} / median {om:.0} MB/s; engine write+read (Ci) best {eb:.0} / median {em:.0} MB/s"
        );
        println!(
            "engine write+read (Ci) = {:.2} x openssl (best vs best), {:.2} x (median vs median)",
            eb / ob,
            em / om
        );
    }

    // SEAMCALL cost: TDH.MEM.SEPT.RD (read-only) and a TDH.MEM.PAGE.AUG + TDH.MEM.PAGE.REMOVE pair on a
    // TD that is still being built (no BLOCK/TRACK needed there).
    let mut s = TdxModule::new(Config::default(), RuleSet::all());
    let mut r = Run::new(&mut s);
    for op in lab::build_ops(&TD_A, 0, &[POOL]) {
        if matches!(op, Op::MrFinalize { .. }) {
            break;
        }
        r.op(op);
    }
    let mut g = c.benchmark_group("tdx-seamcall");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    g.bench_function("TDH.MEM.SEPT.RD", |b| {
        b.iter(|| s.tdh_mem_sept_rd(TD_A.tdr, black_box(0x1000), 0))
    });
    g.throughput(Throughput::Elements(2));
    g.bench_function("TDH.MEM.PAGE.AUG+REMOVE", |b| {
        b.iter(|| {
            let a = s.tdh_mem_page_aug(TD_A.tdr, black_box(0x1000), 0, POOL + 0x1000);
            let r = s.tdh_mem_page_remove(TD_A.tdr, black_box(0x1000), 0);
            (a.is_ok(), r.is_ok())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
