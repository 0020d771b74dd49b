//! RMP entry layout, instruction return codes and access-check results against the literal values of
//! snp.md §4.1, §4.3, §4.4 (bit positions and codes written out by hand here, not computed by the model).

#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_snp::memory::machine::{Fault, OpError};
use sim_snp::memory::op::{result_text, Op, OpOk};
use sim_snp::memory::rmp::{PageState, RmpEntry, RmpStatus};
use sim_snp::memory::{policy, Machine, MachineConfig, PageSize};
use zerocopy::IntoBytes;

fn machine() -> Machine {
    Machine::new(MachineConfig::default(), RuleSet::all()).unwrap()
}

fn run(m: &mut Machine, op: Op) -> String {
    result_text(&op.execute(m))
}

fn upd(spa: u64, gpa: u64, asid: u32, size: PageSize, immutable: bool) -> Op {
    Op::RmpUpdate {
        spa,
        gpa,
        assigned: asid != 0,
        size,
        immutable,
        asid,
    }
}

/// A running guest 1 with GPA 0x1000 validated at SPA 0x200000 (through the real flow: RMPUPDATE,
/// NPT_MAP, PVALIDATE).
fn guest() -> Machine {
    let mut m = machine();
    assert_eq!(
        run(
            &mut m,
            Op::LaunchStart {
                asid: 1,
                policy: policy::MINIMAL
            }
        ),
        "ok"
    );
    assert_eq!(
        run(&mut m, upd(0x20_0000, 0x1000, 1, PageSize::Size4K, false)),
        "ok"
    );
    m.npt_map(1, 0x1000, 0x20_0000, PageSize::Size4K).unwrap();
    assert_eq!(m.pvalidate(1, 0, 0x1000, PageSize::Size4K, true), Ok(false));
    m
}

#[test]
fn entry_bits_follow_snp_md_4_1() {
    let mut e = RmpEntry::default();
    e.set_assigned(true);
    e.set_page_size(PageSize::Size2M);
    e.set_immutable(true);
    e.set_gpa(0x1234_5000);
    e.set_asid(5);
    e.set_validated(true);
    e.set_perms(1, 0x3);
    // bit0 ASSIGNED, bit1 PAGE_SIZE, bit2 IMMUTABLE, 50:12 GPA, 60:51 ASID (5 << 51), 62 VALIDATED.
    assert_eq!(e.q0.get(), 0x4028_0000_1234_5007);
    // Quadword 1 byte 1 = VMPL1 mask.
    assert_eq!(e.q1.get(), 0x300);
    assert_eq!(e.as_bytes().len(), 16);
    assert_eq!(e.state(), Some(PageState::PreSwap));
}

#[test]
fn rmp_costs_16_bytes_per_page_and_protects_itself() {
    let m = machine();
    let (base, end) = m.rmp_range();
    // 16 KiB bookkeeping + 16 bytes per 4 KiB page of the 1 GiB covered.
    assert_eq!(end - base, 0x4000 + (0x4000_0000 / 0x1000) * 16);
    assert_eq!(m.rmp_entry(base).state(), Some(PageState::Firmware));
    let mut m = m;
    // A host write into the RMP is a host write to a Firmware page: #PF with error bit 31.
    assert_eq!(
        run(
            &mut m,
            Op::HostWrite {
                spa: base + 0x4000,
                data: vec![0; 16]
            }
        ),
        "#PF err=0x80000003"
    );
    // RMPUPDATE of an immutable entry.
    assert_eq!(
        run(&mut m, upd(base, 0, 0, PageSize::Size4K, false)),
        "FAIL_PERMISSION"
    );
}

#[test]
fn rmpupdate_return_codes() {
    let mut m = machine();
    assert_eq!(RmpStatus::FAIL_OVERLAP.code(), 4);
    assert_eq!(
        run(&mut m, upd(0x20_0800, 0, 0, PageSize::Size4K, false)),
        "FAIL_INPUT"
    );
    assert_eq!(
        run(&mut m, upd(0x20_1000, 0, 1, PageSize::Size2M, false)),
        "FAIL_INPUT"
    );
    // Beyond RMP_END: not covered.
    assert_eq!(
        run(&mut m, upd(0x4000_0000, 0, 1, PageSize::Size4K, false)),
        "FAIL_INPUT"
    );
    assert_eq!(
        run(&mut m, upd(0x40_1000, 0x1000, 1, PageSize::Size4K, false)),
        "ok"
    );
    // A 2M page over an assigned 4K page, and a 4K page inside an assigned 2M page.
    assert_eq!(
        run(&mut m, upd(0x40_0000, 0, 1, PageSize::Size2M, false)),
        "FAIL_OVERLAP"
    );
    assert_eq!(
        run(&mut m, upd(0x60_0000, 0, 1, PageSize::Size2M, false)),
        "ok"
    );
    assert_eq!(
        run(&mut m, upd(0x60_3000, 0x3000, 1, PageSize::Size4K, false)),
        "FAIL_OVERLAP"
    );
}

#[test]
fn rmpupdate_clears_validated_and_sets_default_perms() {
    let mut m = guest();
    let e = m.rmp_entry(0x20_0000);
    assert!(e.validated());
    assert_eq!((e.perms(0), e.perms(1)), (0x1F, 0));
    assert_eq!(
        run(&mut m, upd(0x20_0000, 0x1000, 1, PageSize::Size4K, false)),
        "ok"
    );
    assert!(!m.rmp_entry(0x20_0000).validated());
    assert_eq!(
        m.rmp_entry(0x20_0000).state(),
        Some(PageState::GuestInvalid)
    );
}

#[test]
fn psmash_copies_validated_with_contiguous_gpas() {
    let mut m = machine();
    m.launch_start(1, policy::MINIMAL).unwrap();
    assert_eq!(
        run(
            &mut m,
            upd(0x60_0000, 0x20_0000, 1, PageSize::Size2M, false)
        ),
        "ok"
    );
    m.npt_map(1, 0x20_0000, 0x60_0000, PageSize::Size2M)
        .unwrap();
    assert_eq!(
        m.pvalidate(1, 0, 0x20_0000, PageSize::Size2M, true),
        Ok(false)
    );
    assert_eq!(run(&mut m, Op::Psmash { spa: 0x60_1000 }), "FAIL_INPUT");
    assert_eq!(run(&mut m, Op::Psmash { spa: 0x60_0000 }), "ok");
    let e = m.rmp_entry(0x60_0000 + 5 * 0x1000);
    assert_eq!(e.gpa(), 0x20_5000);
    assert!(e.validated());
    assert_eq!(e.page_size(), PageSize::Size4K);
    assert_eq!(
        run(&mut m, Op::RmpRead { spa: 0x60_5000 }),
        "ok gpa=0x205000 assigned=1 size=4K immutable=0 asid=1"
    );
}

#[test]
fn pvalidate_cf_and_size_mismatch() {
    let mut m = guest();
    // Already validated: CF=1, nothing changes.
    assert_eq!(m.pvalidate(1, 0, 0x1000, PageSize::Size4K, true), Ok(true));
    // 2M request on a 4K RMP entry: FAIL_SIZEMISMATCH (6).
    assert_eq!(
        run(&mut m, upd(0x30_0000, 0x0, 1, PageSize::Size4K, false)),
        "ok"
    );
    m.npt_map(1, 0x0, 0x30_0000, PageSize::Size4K).unwrap();
    let e = m.pvalidate(1, 0, 0x0, PageSize::Size2M, true);
    assert_eq!(e, Err(OpError::Rmp(RmpStatus::FAIL_SIZEMISMATCH)));
    assert_eq!(RmpStatus::FAIL_SIZEMISMATCH.code(), 6);
    // 4K request on a 2M RMP entry: #NPF with SIZEM (bit 35) and RMP (bit 31).
    let mut m = machine();
    m.launch_start(1, policy::MINIMAL).unwrap();
    assert_eq!(
        run(
            &mut m,
            upd(0x60_0000, 0x20_0000, 1, PageSize::Size2M, false)
        ),
        "ok"
    );
    m.npt_map(1, 0x20_0000, 0x60_0000, PageSize::Size2M)
        .unwrap();
    assert_eq!(
        run(
            &mut m,
            Op::Pvalidate {
                asid: 1,
                vmpl: 0,
                gpa: 0x20_0000,
                size: PageSize::Size4K,
                validate: true
            }
        ),
        "#VMEXIT(NPF) exitinfo1=0xd80000007 gpa=0x200000"
    );
    // Only VMPL0 executes PVALIDATE.
    assert_eq!(
        m.pvalidate(1, 1, 0x20_0000, PageSize::Size2M, true),
        Err(OpError::Fault(Fault::Gp))
    );
}

#[test]
fn access_faults_carry_the_exact_error_bits() {
    let mut m = guest();
    // Unvalidated private access: #VC 0x404.
    assert_eq!(
        run(&mut m, upd(0x20_0000, 0x1000, 1, PageSize::Size4K, false)),
        "ok"
    );
    let r = Op::Read {
        asid: 1,
        vmpl: 0,
        gpa: 0x1000,
        private: true,
        len: 8,
    };
    assert_eq!(run(&mut m, r.clone()), "#VC 0x404");
    // Reverse-Map: the same page reached through another GPA: P|U|RMP|FINAL|ENC = 0x580000005.
    m.npt_map(1, 0x5000, 0x20_0000, PageSize::Size4K).unwrap();
    let r5 = Op::Read {
        asid: 1,
        vmpl: 0,
        gpa: 0x5000,
        private: true,
        len: 8,
    };
    assert_eq!(
        run(&mut m, r5),
        "#VMEXIT(NPF) exitinfo1=0x580000005 gpa=0x5000"
    );
    // No NPT leaf: NPF without P and without the RMP bit.
    let r9 = Op::Write {
        asid: 1,
        vmpl: 0,
        gpa: 0x9000,
        private: true,
        data: vec![1],
    };
    assert_eq!(
        run(&mut m, r9),
        "#VMEXIT(NPF) exitinfo1=0x500000006 gpa=0x9000"
    );
    // Guest-Owned: a hypervisor page.
    m.npt_map(1, 0x7000, 0x70_0000, PageSize::Size4K).unwrap();
    let r7 = Op::Write {
        asid: 1,
        vmpl: 0,
        gpa: 0x7000,
        private: true,
        data: vec![1],
    };
    assert_eq!(
        run(&mut m, r7),
        "#VMEXIT(NPF) exitinfo1=0x580000007 gpa=0x7000"
    );
    // Shared write to a guest-owned page: NPF with RMP, no ENC.
    let s5 = Op::Write {
        asid: 1,
        vmpl: 0,
        gpa: 0x5000,
        private: false,
        data: vec![1],
    };
    assert_eq!(
        run(&mut m, s5),
        "#VMEXIT(NPF) exitinfo1=0x180000007 gpa=0x5000"
    );
    // Shared write to a hypervisor page is fine.
    let s7 = Op::Write {
        asid: 1,
        vmpl: 0,
        gpa: 0x7000,
        private: false,
        data: vec![1],
    };
    assert_eq!(run(&mut m, s7), "ok");
}

#[test]
fn page_size_mismatch_outranks_validated() {
    // snp.md 4.3: "size mismatch + not validated => NPF, not #VC".
    let mut m = machine();
    m.launch_start(1, policy::MINIMAL).unwrap();
    assert_eq!(
        run(&mut m, upd(0x20_0000, 0x0, 1, PageSize::Size4K, false)),
        "ok"
    );
    m.npt_map(1, 0x0, 0x20_0000, PageSize::Size2M).unwrap();
    let r = Op::Read {
        asid: 1,
        vmpl: 0,
        gpa: 0x0,
        private: true,
        len: 8,
    };
    assert_eq!(run(&mut m, r), "#VMEXIT(NPF) exitinfo1=0x580000005 gpa=0x0");
}

#[test]
fn vmpl_permissions_and_rmpadjust() {
    let mut m = guest();
    let w = |v: u8| Op::Write {
        asid: 1,
        vmpl: v,
        gpa: 0x1000,
        private: true,
        data: vec![7; 4],
    };
    let rd = |v: u8| Op::Read {
        asid: 1,
        vmpl: v,
        gpa: 0x1000,
        private: true,
        len: 4,
    };
    // No permission at VMPL1: NPF with bit 36.
    assert_eq!(
        run(&mut m, rd(1)),
        "#VMEXIT(NPF) exitinfo1=0x1580000005 gpa=0x1000"
    );
    // VMPL0 grants VMPL1 read+write; VMPL1 may pass read (only) on to VMPL2, not to itself or VMPL0.
    assert_eq!(m.rmpadjust(1, 0, 0x1000, PageSize::Size4K, 1, 0x3), Ok(()));
    assert_eq!(run(&mut m, w(1)), "ok");
    let fp = Err(OpError::Rmp(RmpStatus::FAIL_PERMISSION));
    assert_eq!(m.rmpadjust(1, 1, 0x1000, PageSize::Size4K, 1, 0x1F), fp);
    assert_eq!(m.rmpadjust(1, 1, 0x1000, PageSize::Size4K, 0, 0x1), fp);
    assert_eq!(m.rmpadjust(1, 1, 0x1000, PageSize::Size4K, 2, 0x7), fp);
    assert_eq!(m.rmpadjust(1, 1, 0x1000, PageSize::Size4K, 2, 0x1), Ok(()));
    assert_eq!(run(&mut m, rd(2)), "ok data=07070707");
    assert_eq!(
        run(&mut m, w(2)),
        "#VMEXIT(NPF) exitinfo1=0x1580000007 gpa=0x1000"
    );
    // Write without Read is an illegal configuration: NPF on data access.
    assert_eq!(m.rmpadjust(1, 0, 0x1000, PageSize::Size4K, 3, 0x2), Ok(()));
    assert_eq!(
        run(&mut m, w(3)),
        "#VMEXIT(NPF) exitinfo1=0x1580000007 gpa=0x1000"
    );
}

#[test]
fn host_sees_deterministic_ciphertext() {
    let mut m = guest();
    let data = b"sixteen byte val".to_vec();
    m.guest_write_private(1, 0, 0x1000, &data).unwrap();
    let c1 = m.host_read(0x20_0000, 16).unwrap();
    assert_ne!(c1, data);
    m.guest_write_private(1, 0, 0x1000, b"something else!!")
        .unwrap();
    assert_ne!(m.host_read(0x20_0000, 16).unwrap(), c1);
    m.guest_write_private(1, 0, 0x1000, &data).unwrap();
    assert_eq!(m.host_read(0x20_0000, 16).unwrap(), c1);
    assert_eq!(m.guest_read_private(1, 0, 0x1000, 16).unwrap(), data);
    // A shared read returns the ciphertext too; a host write is refused.
    assert_eq!(m.guest_read_shared(1, 0x1000, 16).unwrap(), c1);
    assert_eq!(
        run(
            &mut m,
            Op::HostWrite {
                spa: 0x20_0000,
                data: vec![0]
            }
        ),
        "#PF err=0x80000003"
    );
}

#[test]
fn cipher_follows_policy_and_product() {
    let mut m = machine();
    m.launch_start(1, policy::MINIMAL).unwrap();
    m.launch_start(2, policy::MINIMAL | policy::MEM_AES_256_XTS)
        .unwrap();
    assert_eq!(m.guest_cipher(1), Some("AES-128-XEX"));
    assert_eq!(m.guest_cipher(2), Some("AES-256-XTS"));
    let cfg = MachineConfig {
        product: sim_snp::memory::Product::Milan,
        ..MachineConfig::default()
    };
    let mut milan = Machine::new(cfg, RuleSet::all()).unwrap();
    assert_eq!(
        run(
            &mut milan,
            Op::LaunchStart {
                asid: 1,
                policy: policy::MINIMAL | policy::MEM_AES_256_XTS
            }
        ),
        "POLICY_FAILURE"
    );
    // Bit 17 must be one.
    assert_eq!(
        run(&mut milan, Op::LaunchStart { asid: 1, policy: 0 }),
        "POLICY_FAILURE"
    );
}

#[test]
fn page_commands_and_swap_disable() {
    let mut m = guest();
    m.guest_write_private(1, 0, 0x1000, b"kept across moves")
        .unwrap();
    assert_eq!(
        run(
            &mut m,
            Op::PageMove {
                asid: 1,
                src: 0x20_0000,
                dst: 0x20_0000
            }
        ),
        "INVALID_PAGE_STATE"
    );
    assert_eq!(
        run(
            &mut m,
            Op::PageMove {
                asid: 1,
                src: 0x20_0000,
                dst: 0x30_0000
            }
        ),
        "ok"
    );
    assert_eq!(m.rmp_entry(0x20_0000).state(), Some(PageState::Reclaim));
    m.npt_map(1, 0x1000, 0x30_0000, PageSize::Size4K).unwrap();
    assert_eq!(
        m.guest_read_private(1, 0, 0x1000, 17).unwrap(),
        b"kept across moves"
    );
    let slot = match (Op::SwapOut {
        asid: 1,
        spa: 0x30_0000,
    })
    .execute(&mut m)
    {
        Ok(OpOk::Slot(s)) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(m.rmp_entry(0x30_0000).state(), Some(PageState::PreSwap));
    assert_eq!(
        run(
            &mut m,
            Op::SwapIn {
                asid: 1,
                slot,
                dst: 0x40_0000
            }
        ),
        "ok"
    );
    // The blob is one-time.
    assert_eq!(
        run(
            &mut m,
            Op::SwapIn {
                asid: 1,
                slot,
                dst: 0x40_1000
            }
        ),
        "INVALID_MDATA_ENTRY"
    );
    m.npt_map(1, 0x1000, 0x40_0000, PageSize::Size4K).unwrap();
    assert_eq!(
        m.guest_read_private(1, 0, 0x1000, 17).unwrap(),
        b"kept across moves"
    );
    assert_eq!(run(&mut m, Op::PageReclaim { spa: 0x30_0000 }), "ok");
    assert_eq!(m.rmp_entry(0x30_0000).state(), Some(PageState::Reclaim));
    // PAGE_SWAP_DISABLE: every page command fails with POLICY_FAILURE (0x07).
    m.launch_start(2, policy::MINIMAL | policy::PAGE_SWAP_DISABLE)
        .unwrap();
    assert_eq!(
        run(&mut m, upd(0x50_0000, 0x1000, 2, PageSize::Size4K, false)),
        "ok"
    );
    assert_eq!(
        run(
            &mut m,
            Op::PageMove {
                asid: 2,
                src: 0x50_0000,
                dst: 0x50_1000
            }
        ),
        "POLICY_FAILURE"
    );
    assert_eq!(
        run(
            &mut m,
            Op::SwapOut {
                asid: 2,
                spa: 0x50_0000
            }
        ),
        "POLICY_FAILURE"
    );
    assert_eq!(
        run(
            &mut m,
            Op::SwapIn {
                asid: 2,
                slot: 0,
                dst: 0x50_1000
            }
        ),
        "POLICY_FAILURE"
    );
}

#[test]
fn memory_is_sparse() {
    let mut m = machine();
    let before = m.frames();
    m.launch_start(1, policy::MINIMAL).unwrap();
    for i in 0..64u64 {
        let spa = 0x100_0000 + i * 0x10_0000; // 64 pages spread over 64 MiB
        assert_eq!(
            run(&mut m, upd(spa, i * 0x1000, 1, PageSize::Size4K, false)),
            "ok"
        );
        m.npt_map(1, i * 0x1000, spa, PageSize::Size4K).unwrap();
        m.pvalidate(1, 0, i * 0x1000, PageSize::Size4K, true)
            .unwrap();
        m.guest_write_private(1, 0, i * 0x1000, &[1; 64]).unwrap();
    }
    // 64 data frames plus the RMP frames holding their entries (entries 1 MiB apart: 4 KiB of RMP
    // covers 1 MiB, so one RMP frame each).
    let grown = m.frames() - before;
    assert!(grown <= 2 * 64, "grew by {grown} frames");
    assert!(grown >= 64);
}

#[test]
fn instruction_fetch_needs_supervisor_execute() {
    let mut m = guest();
    let f = |v: u8| Op::Fetch {
        asid: 1,
        vmpl: v,
        gpa: 0x1000,
    };
    assert_eq!(run(&mut m, f(0)), "ok");
    // VMPL1 without X: NPF with P, U, fetch (bit 4), RMP, FINAL, ENC and VMPL.
    assert_eq!(
        run(&mut m, f(1)),
        "#VMEXIT(NPF) exitinfo1=0x1580000015 gpa=0x1000"
    );
    assert_eq!(m.rmpadjust(1, 0, 0x1000, PageSize::Size4K, 1, 0x9), Ok(()));
    assert_eq!(run(&mut m, f(1)), "ok");
}
