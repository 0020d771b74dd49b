//! insta snapshots of `show` on every real capture (quotes and the Azure TDREPORT) and on the simulated
//! quote of seed 0, reviewed and committed under `tests/snapshots/`.

#![allow(clippy::unwrap_used)]

use sim_tdx::show::{parse_any, quote_json, tdreport_json, Shown};

const V: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/tdx");

fn show(bytes: &[u8]) -> serde_json::Value {
    match parse_any(bytes).unwrap() {
        Shown::Quote(q) => quote_json(&q),
        Shown::TdReport(r) => tdreport_json(&r),
    }
}

#[test]
fn show_captures() {
    for name in [
        "cos-113-tdx-quote.dat",
        "quote_v5_sample.dat",
        "tdx_prod_quote_SPR_E4.dat",
        "az-tdx-vtpm_td-quote.bin",
        "tdx_quote_4.dat",
        "tdx_quote_5.dat",
    ] {
        let b = std::fs::read(format!("{V}/captures/{name}")).unwrap();
        insta::assert_json_snapshot!(name, show(&b));
    }
    let hcl = std::fs::read(format!("{V}/captures/az-tdx-vtpm_hcl-report.bin")).unwrap();
    insta::assert_json_snapshot!("az-tdx-vtpm_tdreport", show(&hcl[32..1056]));
    let td15ex = std::fs::read(format!("{V}/dcap-qvl/tdx_quote_td15ex")).unwrap();
    insta::assert_json_snapshot!("dcap-qvl_tdx_quote_td15ex", show(&td15ex));
}

#[test]
fn show_simulated_seed_0() {
    let b = sim_tdx::evidence::generate(&Default::default()).unwrap();
    insta::assert_json_snapshot!("sim_seed0_quote", quote_json(&b.quote));
    insta::assert_json_snapshot!("sim_seed0_tdreport", tdreport_json(&b.tdreport));
}
