//! Snapshots of `cvmsim gpu show` (human form) on the real captures.

#![allow(clippy::unwrap_used)]

use sim_gpu::layout::Report;

fn show(name: &str) -> String {
    let t = std::fs::read_to_string(format!(
        "{}/../vectors/gpu/captures/{name}.report.hex",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let b = hex::decode(t.trim()).unwrap();
    sim_gpu::show::show_human(&Report::parse(&b).unwrap())
}

#[test]
fn show_h100_535_86_09() {
    insta::assert_snapshot!(show("h100pcie_535.86.09_nvat-sample"));
}

#[test]
fn show_h100_580_159_03() {
    insta::assert_snapshot!(show("h100pcie-862_580.159.03_nvat-testdata"));
}

#[test]
fn show_h100_580_95_05_trailing_byte() {
    insta::assert_snapshot!(show("h100pcie_580.95.05_trustee-coco-ci"));
}

#[test]
fn show_gb100_575_32() {
    insta::assert_snapshot!(show("gb100_575.32_nvat-sample"));
}
