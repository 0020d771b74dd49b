//! The memory model's SNP_LAUNCH_UPDATE and the attestation model's launch compute one launch digest:
//! pages the hypervisor stages (host writes, RMPUPDATE to Pre-Guest) and the AMD-SP encrypts in place
//! measure to the same MEASUREMENT the Secure Processor model puts in the guest's report.

#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_snp::layout::page_info::PageType;
use sim_snp::layout::GuestPolicy;
use sim_snp::memory::op::{result_text, Op};
use sim_snp::memory::{policy, Machine, MachineConfig, PageSize};
use sim_snp::report::AttestationReport;
use sim_snp::sp::{GuestDriver, Platform, PlatformConfig};
use sim_snp::Product;

#[test]
fn both_models_measure_a_launch_to_the_same_digest_and_the_report_carries_it() {
    let pages: Vec<(u64, u64, [u8; 4096])> = (0..3u64)
        .map(|i| {
            (
                0x40_0000 + i * 0x1000,
                0x8000 + i * 0x1000,
                [i as u8 + 7; 4096],
            )
        })
        .collect();

    // Memory model: the hypervisor writes the plaintext, assigns the pages Pre-Guest, the SP encrypts.
    let mut m = Machine::new(MachineConfig::default(), RuleSet::all()).unwrap();
    m.launch_start(1, policy::MINIMAL).unwrap();
    for (spa, gpa, data) in &pages {
        m.host_write(*spa, data).unwrap();
        let op = Op::RmpUpdate {
            spa: *spa,
            gpa: *gpa,
            assigned: true,
            size: PageSize::Size4K,
            immutable: true,
            asid: 1,
        };
        assert_eq!(result_text(&op.execute(&mut m)), "ok");
        m.launch_update(1, *spa).unwrap();
        // The host now sees ciphertext where it wrote plaintext.
        assert_ne!(&m.host_read(*spa, 4096).unwrap()[..], &data[..]);
    }
    let ld = m.launch_digest(1).unwrap();

    // Attestation model: the same pages through SNP_LAUNCH_UPDATE, then a report.
    let p = Platform::new(PlatformConfig::new(Product::Genoa, 0)).unwrap();
    let mut g = p.launch_start(1, GuestPolicy::DEFAULT).unwrap();
    for (_, gpa, data) in &pages {
        p.launch_update(&mut g, *gpa, PageType::Normal, data, [0; 3])
            .unwrap();
    }
    assert_eq!(g.ld, ld, "the two models disagree on the launch digest");
    p.launch_finish(&mut g, None, false, [0; 32]).unwrap();
    let mut d = GuestDriver::new(&g, 0);
    let r = AttestationReport::parse(&d.get_report(&p, &mut g, [0; 64], 0, 1).unwrap()).unwrap();
    assert_eq!(r.raw.measurement, ld);
}
