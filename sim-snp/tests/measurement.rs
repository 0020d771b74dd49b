//! The expected launch digest equals sev-snp-measure 0.0.13's for the ten vectors in
//! `vectors/snp/captures/measurement/expected_launch_digests.tsv` (made by running sev-snp-measure on
//! the OVMF fixture; see that folder's README), and the SP model's launch gives the same MEASUREMENT.

#![allow(clippy::unwrap_used)]

use sim_snp::layout::GuestPolicy;
use sim_snp::measure::{self, MeasureInput, Ovmf, VmmType};
use sim_snp::sp::{Platform, PlatformConfig};
use sim_snp::Product;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../vectors/snp/captures/measurement"
);

struct Row {
    input: Option<MeasureInput>,
    ovmf_hash_mode: bool,
    ovmf: Ovmf,
    expect: String,
}

fn rows() -> Vec<Row> {
    let tsv = std::fs::read_to_string(format!("{DIR}/expected_launch_digests.tsv")).unwrap();
    let mut out = Vec::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let ovmf = Ovmf::parse(std::fs::read(format!("{DIR}/{}", f[0])).unwrap()).unwrap();
        let expect = f[9].to_string();
        if f[8] == "(mode snp:ovmf-hash)" {
            out.push(Row {
                input: None,
                ovmf_hash_mode: true,
                ovmf,
                expect,
            });
            continue;
        }
        let vcpu_sig = if f[2] == "-" {
            0
        } else {
            u32::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap()
        };
        let vmm = VmmType::parse(f[3]).unwrap();
        let (kernel, initrd, append) = if f[4] == "None" {
            (None, None, None)
        } else {
            // /dev/null kernel and initrd: empty files; '' is the empty command line.
            let a = f[6].trim_matches('\'');
            (
                Some(Vec::new()),
                Some(Vec::new()),
                if a.is_empty() {
                    None
                } else {
                    Some(a.to_string())
                },
            )
        };
        let guest_features = u64::from_str_radix(f[7].trim_start_matches("0x"), 16).unwrap();
        let input = MeasureInput {
            ovmf: ovmf.clone(),
            ovmf_hash: None,
            vcpus: f[1].parse().unwrap(),
            vcpu_sig,
            kernel,
            initrd,
            append,
            guest_features,
            vmm,
        };
        out.push(Row {
            input: Some(input),
            ovmf_hash_mode: false,
            ovmf,
            expect,
        });
    }
    out
}

#[test]
fn all_ten_sev_snp_measure_vectors_match() {
    let rows = rows();
    assert_eq!(rows.len(), 10);
    for (i, r) in rows.iter().enumerate() {
        let got = if r.ovmf_hash_mode {
            measure::ovmf_hash(&r.ovmf)
        } else {
            measure::launch_digest(r.input.as_ref().unwrap()).unwrap()
        };
        assert_eq!(hex::encode(got), r.expect, "row {}", i + 1);
    }
}

#[test]
fn precomputed_ovmf_hash_gives_the_same_digest() {
    let rows = rows();
    let r = &rows[1];
    let mut input = r.input.clone().unwrap();
    input.ovmf_hash = Some(measure::ovmf_hash(&r.ovmf));
    assert_eq!(
        hex::encode(measure::launch_digest(&input).unwrap()),
        r.expect
    );
}

#[test]
fn the_sp_launch_flow_measures_the_same_digest() {
    let rows = rows();
    let r = &rows[3]; // kernel hashes with a command line, 1 vCPU, features 0x21
    let input = r.input.as_ref().unwrap();
    let p = Platform::new(PlatformConfig::new(Product::Genoa, 0)).unwrap();
    let mut g = p.launch_start(1, GuestPolicy::DEFAULT).unwrap();
    for u in measure::launch_plan(input).unwrap() {
        p.launch_update(&mut g, u.gpa, u.page_type, u.bytes(), [0; 3])
            .unwrap();
    }
    assert_eq!(hex::encode(g.ld), r.expect);
}
