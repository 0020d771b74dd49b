//! Real quotes with Intel's full PCS collateral (dcap-qvl 0.7.1 `sample/`, vectors/tdx/dcap-qvl): at a
//! pinned time inside every collateral window, this verifier and dcap-qvl give the same TCB status. Covers
//! v4, v5 body type 3 and v5 body type 4.

#![allow(clippy::unwrap_used)]

use sim_tdx::collateral::Collateral;
use sim_tdx::quote::Quote;
use sim_tdx::verify::{verify_quote, Policy};

const V: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/tdx/dcap-qvl");

const CASES: [(&str, u16, u16, i64); 3] = [
    ("tdx_quote", 4, 2, 1_750_377_600),          // 2025-06-20
    ("tdx_quote_outdated", 5, 3, 1_771_459_200), // 2026-02-19
    ("tdx_quote_td15ex", 5, 4, 1_791_504_000),   // 2026-10-09
];

fn load(name: &str) -> (Vec<u8>, String) {
    (
        std::fs::read(format!("{V}/{name}")).unwrap(),
        std::fs::read_to_string(format!("{V}/{name}_collateral.json")).unwrap(),
    )
}

#[test]
fn full_verification_agrees_with_dcap_qvl() {
    for (name, version, body_type, now) in CASES {
        let (q, c) = load(name);
        let parsed = Quote::parse(&q).unwrap();
        assert_eq!(
            (parsed.version(), parsed.body.body_type()),
            (version, body_type),
            "{name}"
        );
        assert!(parsed.encode() == q, "{name}: encode(parse(b)) != b");
        let coll = Collateral::from_json(&c).unwrap();
        let v = verify_quote(
            &q,
            Some(&coll),
            sim_tdx::INTEL_SGX_ROOT_CA_DER,
            now,
            &Policy::default(),
        )
        .unwrap();
        let theirs: dcap_qvl::QuoteCollateralV3 = serde_json::from_str(&c).unwrap();
        let r = match dcap_qvl::verify::verify(&q, &theirs, now as u64) {
            Ok(r) => r,
            Err(e) => {
                // tdx_quote_outdated: the TCB info has no level its PCK TCB meets (tdx.md §9: one of
                // the three dcap-qvl sets is an expected failure). Both verifiers must say so.
                assert_eq!(name, "tdx_quote_outdated", "dcap-qvl: {e:#}");
                assert!(format!("{e:#}").contains("No matching TCB level"), "{e:#}");
                let st = v.checks.iter().find(|c| c.id == "TDX-TCB-STATUS").unwrap();
                assert!(
                    !st.ok && st.detail.contains("no matching TCB level"),
                    "{}",
                    st.detail
                );
                continue;
            }
        };
        assert_eq!(
            v.claims["tcb_status"],
            r.status.as_str(),
            "{name}:\n{}",
            v.render_human()
        );
        assert!(v.is_valid(), "{name}:\n{}", v.render_human());
        let ours: Vec<String> = serde_json::from_value(v.claims["advisory_ids"].clone()).unwrap();
        let mut a = ours.clone();
        let mut b = r.advisory_ids.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{name} advisories");
    }
}

#[test]
fn type_4_body_fields_are_signed() {
    let (q, c) = load("tdx_quote_td15ex");
    let coll = Collateral::from_json(&c).unwrap();
    let parsed = Quote::parse(&q).unwrap();
    let sim_tdx::quote::TdBody::Td15Ex(ex) = &parsed.body else {
        panic!("type 4 expected");
    };
    assert_ne!(ex.td_id, [0u8; 32]);
    assert_eq!(parsed.signed_len(), 48 + 6 + 885);
    for off in [48 + 6 + 649, 48 + 6 + 884] {
        let mut m = q.clone();
        m[off] ^= 1;
        let v = verify_quote(
            &m,
            Some(&coll),
            sim_tdx::INTEL_SGX_ROOT_CA_DER,
            1_791_504_000,
            &Policy::default(),
        )
        .unwrap();
        assert!(v.failed("TDX-QUOTE-SIGNATURE"));
    }
}

#[test]
fn outside_the_collateral_window_fails() {
    let (q, c) = load("tdx_quote");
    let coll = Collateral::from_json(&c).unwrap();
    // 2025-08-01: TCB info, QE identity and PCK CRL are past nextUpdate.
    let v = verify_quote(
        &q,
        Some(&coll),
        sim_tdx::INTEL_SGX_ROOT_CA_DER,
        1_754_006_400,
        &Policy::default(),
    )
    .unwrap();
    assert!(v.failed("TDX-TCB-INFO-VALIDITY"));
    assert!(v.failed("TDX-QE-IDENTITY-VALIDITY"));
    assert!(v.failed("TDX-CRL-PCK"));
    let theirs: dcap_qvl::QuoteCollateralV3 = serde_json::from_str(&c).unwrap();
    assert!(dcap_qvl::verify::verify(&q, &theirs, 1_754_006_400).is_err());
}
