//! The committed simulated vectors (vectors/tdx/sim, written by `cvmsim tdx quote`) are regenerated here
//! and compared byte for byte, and each verifies in dcap-qvl with its recorded status.

#![allow(clippy::unwrap_used)]

use sim_tdx::collateral::TcbStatus;
use sim_tdx::evidence::{generate, QuoteOptions};

const V: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/tdx/sim");

#[test]
fn committed_vectors_regenerate_byte_for_byte() {
    let cases = [
        ("v4-UpToDate", QuoteOptions::default()),
        (
            "v5-TDRelaunchAdvised",
            QuoteOptions {
                version: Some(5),
                status: TcbStatus::TDRelaunchAdvised,
                report_data: {
                    let mut r = [0u8; 64];
                    r[..4].copy_from_slice(&[0x00, 0x11, 0x22, 0x33]);
                    r
                },
                ..QuoteOptions::default()
            },
        ),
        (
            "v5-OutOfDate",
            QuoteOptions {
                version: Some(5),
                status: TcbStatus::OutOfDate,
                seed: 7,
                ..QuoteOptions::default()
            },
        ),
    ];
    for (dir, o) in cases {
        let b = generate(&o).unwrap();
        for (name, bytes) in b.files() {
            let committed = std::fs::read(format!("{V}/{dir}/{name}")).unwrap();
            assert!(
                committed == bytes,
                "{dir}/{name} differs from the regenerated file"
            );
        }
        let coll: dcap_qvl::QuoteCollateralV3 =
            serde_json::from_slice(&std::fs::read(format!("{V}/{dir}/collateral.json")).unwrap())
                .unwrap();
        let r = dcap_qvl::verify::QuoteVerifier::new(
            std::fs::read(format!("{V}/{dir}/root_ca.der")).unwrap(),
        )
        .verify(
            &std::fs::read(format!("{V}/{dir}/quote.bin")).unwrap(),
            &coll,
            1_767_225_600,
        )
        .unwrap();
        assert_eq!(r.status, o.status.as_str(), "{dir}");
    }
}
