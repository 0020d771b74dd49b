//! Quotes issued and verified per second, beside the raw P-256 sign and verify rates in the same run.
//!
//! `cargo bench -p sim-tdx --bench quote`

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use p256::ecdsa::{signature::Signer, signature::Verifier, Signature};
use sim_tdx::evidence::{generate, QuoteOptions};
use sim_tdx::module::{Td, TdParams, TdxPlatform};
use sim_tdx::qe::{QuoteVersion, QuotingEnclave};
use sim_tdx::verify::{verify_quote, Policy};

const NOW: i64 = 1_767_225_600;

fn bench(c: &mut Criterion) {
    let bundle = generate(&QuoteOptions::default()).unwrap();
    let quote = bundle.quote.encode();
    let signed = bundle.quote.signed_bytes();

    let key = sim_tdx::pki::derive_key("bench", 0);
    let sig: Signature = key.sign(&signed);
    let vk = *key.verifying_key();
    let mut g = c.benchmark_group("p256");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign_632B", |b| {
        b.iter(|| {
            let s: Signature = key.sign(black_box(&signed));
            s
        })
    });
    g.bench_function("verify_632B", |b| {
        b.iter(|| vk.verify(black_box(&signed), &sig).is_ok())
    });
    g.finish();

    let mut svn = [0u8; 16];
    svn[..3].copy_from_slice(&[5, 1, 8]);
    let platform = TdxPlatform::new(0, sim_tdx::collateral::SIM_CPUSVN, svn, svn);
    let td = Td::with_mrtd(
        TdParams {
            attributes: 1 << 28,
            ..TdParams::default()
        },
        [1; 48],
    );
    let qe = QuotingEnclave::new(
        0,
        sim_tdx::pki::derive_key("tdx/pck", 0),
        bundle.quote.pck_chain_pem(),
        platform.clone(),
    );
    let mut g = c.benchmark_group("quote");
    g.throughput(Throughput::Elements(1));
    g.bench_function(
        "issue (TDG.MR.REPORT + QE: MAC check, 2 ECDSA signatures, encode)",
        |b| {
            b.iter(|| {
                let r = td.report(&platform, black_box(&[7; 64])).unwrap();
                qe.quote(&r, QuoteVersion::V4).unwrap().encode()
            })
        },
    );
    let policy = Policy::default();
    g.bench_function("verify (signatures, binding, PCK chain)", |b| {
        b.iter(|| verify_quote(black_box(&quote), None, &bundle.root_der, NOW, &policy).unwrap())
    });
    g.bench_function(
        "verify with collateral (CRLs, TCB info, QE identity, TCB status)",
        |b| {
            b.iter(|| {
                verify_quote(
                    black_box(&quote),
                    Some(&bundle.collateral),
                    &bundle.root_der,
                    NOW,
                    &policy,
                )
                .unwrap()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
