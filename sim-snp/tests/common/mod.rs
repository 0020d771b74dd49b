//! Shared helpers of the sim-snp integration tests: the real captures in `vectors/snp/captures`.
#![allow(dead_code, missing_docs)]
#![allow(clippy::unwrap_used)]

use sim_snp::verify::{Evidence, Options, Policy};
use sim_snp::Product;

pub const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/snp/captures");

/// 2026-11-01T00:00:00Z: inside the validity of every captured certificate.
pub const PINNED_NOW: i64 = 1_793_491_200;

pub struct Capture {
    pub name: &'static str,
    pub report: &'static str,
    pub vcek: &'static str,
    pub product: Product,
}

/// Every captured report that has its VCEK.
pub const WITH_VCEK: &[Capture] = &[
    Capture {
        name: "milan_v2_gosevguest",
        report: "milan/milan_v2_gosevguest_report.bin",
        vcek: "milan/milan_v2_gosevguest_vcek.der",
        product: Product::Milan,
    },
    Capture {
        name: "milan_v2_gosevguest_reissued",
        report: "milan/milan_v2_gosevguest_report.bin",
        vcek: "milan/milan_v2_gosevguest_vcek_reissued2026.der",
        product: Product::Milan,
    },
    Capture {
        name: "milan_v3_msft",
        report: "milan/milan_v3_msft_report.bin",
        vcek: "milan/milan_v3_msft_vcek.pem",
        product: Product::Milan,
    },
    Capture {
        name: "milan_v3_routex",
        report: "milan/milan_v3_routex_report.bin",
        vcek: "milan/milan_v3_routex_vcek_ask_ark.pem",
        product: Product::Milan,
    },
    Capture {
        name: "genoa_v3_msft",
        report: "genoa/genoa_v3_msft_report.bin",
        vcek: "genoa/genoa_v3_msft_vcek.pem",
        product: Product::Genoa,
    },
    Capture {
        name: "genoa_v3_routex",
        report: "genoa/genoa_v3_routex_report.bin",
        vcek: "genoa/genoa_v3_routex_vcek_ask_ark.pem",
        product: Product::Genoa,
    },
    Capture {
        name: "genoa_v5_routex",
        report: "genoa/genoa_v5_routex_report.bin",
        vcek: "genoa/genoa_v5_routex_vcek_ask_ark.pem",
        product: Product::Genoa,
    },
    Capture {
        name: "turin_v5_msft",
        report: "turin/turin_v5_msft_report.bin",
        vcek: "turin/turin_v5_msft_vcek.pem",
        product: Product::Turin,
    },
    Capture {
        name: "turin_v5_routex",
        report: "turin/turin_v5_routex_report.bin",
        vcek: "turin/turin_v5_routex_vcek_ask_ark.pem",
        product: Product::Turin,
    },
];

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{CAPTURES}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// DER of the first certificate of a DER or PEM file.
pub fn cert_der(rel: &str) -> Vec<u8> {
    sim_core::x509::cert_der_from_bytes(&read(rel)).unwrap()
}

/// AMD's real (ASK, ARK) of a product.
pub fn amd_roots(p: Product) -> (Vec<u8>, Vec<u8>) {
    let pem = String::from_utf8(read(&format!("roots/{}_ask_ark.pem", p.cli_name()))).unwrap();
    let mut certs = sim_core::x509::pem_certs(&pem).unwrap();
    let ark = certs.remove(1);
    let ask = certs.remove(0);
    (ask, ark)
}

pub fn verify_capture(report: &[u8], vcek: &[u8], product: Product) -> sim_core::Verdict {
    let (ask, ark) = amd_roots(product);
    let ev = Evidence {
        report,
        vek: Some(vcek),
        ask: Some(&ask),
        ark: Some(&ark),
        crl: None,
        product: None,
    };
    sim_snp::verify::verify(&ev, &Policy::default(), Options { now: PINNED_NOW })
}
