//! Report issuance (guest MSG_REPORT_REQ to signed report, through the encrypted guest-message channel)
//! and verification (structure, RSA-PSS chain, ECDSA signature, TCB and hwID checks) per second, beside
//! the raw P-384 ECDSA sign and verify rates of the same crate measured in the same run.
//!
//! `cargo bench -p sim-snp --bench attestation`

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use p384::ecdsa::signature::{Signer, Verifier};
use sim_snp::evidence::{self, ReportSpec};
use sim_snp::layout::GuestPolicy;
use sim_snp::sp::{GuestDriver, Platform, PlatformConfig};
use sim_snp::verify::{Evidence, Options, Policy};
use sim_snp::Product;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("snp");
    g.throughput(Throughput::Elements(1));

    // Issuance: a running guest asks for a report.
    let p = Platform::new(PlatformConfig::new(Product::Genoa, 1)).expect("platform");
    let mut guest = p.launch_start(1, GuestPolicy::DEFAULT).expect("launch");
    p.launch_finish(&mut guest, None, false, [0; 32])
        .expect("finish");
    let mut d = GuestDriver::new(&guest, 0);
    let _ = p.vcek(&p.reported_tcb());
    g.bench_function("report_issue (guest request -> signed report)", |b| {
        b.iter(|| d.get_report(&p, &mut guest, [1; 64], 0, 1).expect("report"))
    });

    // Verification of a full bundle.
    let bundle = evidence::issue(&ReportSpec::new(Product::Genoa, 1)).expect("bundle");
    let ev = Evidence {
        report: &bundle.report,
        vek: Some(&bundle.vek),
        ask: Some(&bundle.ask),
        ark: Some(&bundle.ark),
        crl: None,
        product: None,
    };
    let opts = Options {
        now: sim_core::time::ISSUE_EPOCH + 1,
    };
    g.bench_function("report_verify (chain + signature + checks)", |b| {
        b.iter(|| assert!(sim_snp::verify::verify(&ev, &Policy::default(), opts).is_valid()))
    });

    // The peer: raw P-384 ECDSA over the same 672 bytes.
    let key = p.vcek(&p.reported_tcb()).expect("vcek");
    let sk = p384::ecdsa::SigningKey::from(&key);
    let vk = p384::ecdsa::VerifyingKey::from(&sk);
    let msg = &bundle.report[..0x2A0];
    let sig: p384::ecdsa::Signature = sk.sign(msg);
    g.bench_function("raw_p384_sign", |b| {
        b.iter(|| -> p384::ecdsa::Signature { sk.sign(msg) })
    });
    g.bench_function("raw_p384_verify", |b| {
        b.iter(|| vk.verify(msg, &sig).expect("verifies"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
