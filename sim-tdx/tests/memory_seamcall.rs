//! The host and guest interfaces: exact TDX status codes with operand IDs for each misuse, the SEPT,
//! PAMT and op-state transitions, the BLOCK → TRACK → REMOVE protocol, MRTD/RTMR, the shared-bit split.
#![allow(clippy::unwrap_used)]

use sha2::{Digest, Sha384};
use sim_core::rules::RuleSet;
use sim_tdx::memory::guest::{line_pattern, Entry, GuestEvent, TdExit};
use sim_tdx::memory::lab::{self, Run, POOL, SOURCE_PAGE, TD_A, TD_B};
use sim_tdx::memory::pamt::PageType;
use sim_tdx::memory::seamcall::{
    LeafOut, OpState, ReportProvider, SeptInfo, TdMeasurements, ATTR_SEPT_VE_DISABLE, SHARED_BIT,
};
use sim_tdx::memory::sept::SeptState;
use sim_tdx::memory::{Config, Event, Op, OperandId, TdxError, TdxModule, TdxStatus};

fn module() -> TdxModule {
    TdxModule::new(Config::default(), RuleSet::all())
}

/// TD A built with one page at GPA 0 and its vCPU running.
fn running(attrs: u64) -> TdxModule {
    let mut m = module();
    let mut r = Run::new(&mut m);
    assert!(lab::build(&mut r, &TD_A, attrs, &[POOL]));
    assert!(matches!(
        r.op(Op::VpEnter { tdvpr: TD_A.tdvpr }),
        Event::Enter(Ok(Entry::Running(None)))
    ));
    m
}

fn e(s: TdxStatus, o: OperandId) -> TdxError {
    TdxError::op(s, o)
}

/// Runs a leaf that must fail with `want`, and checks that it changed nothing.
fn refused(m: &mut TdxModule, op: Op, want: TdxError) {
    let (tds, pamt, vcpus) = (m.tds.clone(), m.pamt.clone(), m.vcpus.clone());
    match m.apply(&op) {
        Event::Leaf(Err(got)) | Event::Enter(Err(got)) => assert_eq!(got, want, "{op}"),
        other => panic!("{op}: expected {want}, got {other}"),
    }
    assert!(
        tds == m.tds && pamt == m.pamt && vcpus == m.vcpus,
        "{op} changed state"
    );
}

fn ok(m: &mut TdxModule, op: Op) -> LeafOut {
    match m.apply(&op) {
        Event::Leaf(Ok(o)) => o,
        other => panic!("{op}: {other}"),
    }
}

fn sept(m: &mut TdxModule, gpa: u64, level: u64) -> SeptInfo {
    match ok(
        m,
        Op::SeptRd {
            tdr: TD_A.tdr,
            gpa,
            level,
        },
    ) {
        LeafOut::Sept(s) => s,
        o => panic!("{o:?}"),
    }
}

#[test]
fn raw_status_values_carry_the_operand_id() {
    // Linux KVM retries on exactly TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_SEPT (0x92).
    let mut m = running(0);
    ok(
        &mut m,
        Op::RangeBlock {
            tdr: TD_A.tdr,
            gpa: 0,
            level: 0,
        },
    );
    let ev = m.apply(&Op::RangeUnblock {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    let Event::Leaf(Err(err)) = ev else {
        panic!("{ev}")
    };
    assert_eq!(err.raw(), 0xC000_0B08_0000_0092);
}

#[test]
fn operand_checks_name_the_register() {
    let mut m = running(0);
    let aug = |gpa, level, page| Op::PageAug {
        tdr: TD_A.tdr,
        gpa,
        level,
        page,
    };
    refused(
        &mut m,
        aug(0x1800, 0, POOL + 0x1000),
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX),
    );
    refused(
        &mut m,
        aug(SHARED_BIT | 0x1000, 0, POOL + 0x1000),
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX),
    );
    refused(
        &mut m,
        aug(0x1000, 2, POOL + 0x1000),
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX),
    );
    refused(
        &mut m,
        aug(0x1000, 0, POOL + 0x1010),
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::R8),
    );
    refused(
        &mut m,
        aug(0x1000, 0, (16u64 << 40) | (POOL + 0x1000)),
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::R8),
    );
    refused(
        &mut m,
        aug(0x1000, 0, 1 << 30),
        e(TdxStatus::TDX_OPERAND_ADDR_RANGE_ERROR, OperandId::R8),
    );
    refused(
        &mut m,
        aug(0x1000, 0, TD_A.tdcx),
        e(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::R8),
    );
    refused(
        &mut m,
        Op::PageAug {
            tdr: POOL,
            gpa: 0x1000,
            level: 0,
            page: POOL + 0x1000,
        },
        e(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::RDX),
    );
    // No SEPT page maps GPA 0x40000000 (1 GiB): the walk stops at level 2.
    refused(
        &mut m,
        aug(0x4000_0000, 0, POOL + 0x1000),
        e(TdxStatus::TDX_EPT_WALK_FAILED, OperandId::RCX),
    );
    refused(
        &mut m,
        aug(0x0, 0, POOL + 0x1000),
        e(TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT, OperandId::RCX),
    );
    refused(
        &mut m,
        Op::MngCreate {
            tdr: POOL + 0x8000,
            hkid: 3,
        },
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::RDX),
    );
    refused(
        &mut m,
        Op::MngCreate {
            tdr: POOL + 0x8000,
            hkid: 16,
        },
        TdxError::bare(TdxStatus::TDX_HKID_NOT_FREE),
    );
    refused(
        &mut m,
        Op::PageReclaim {
            page: POOL + 0x9000,
        },
        e(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::RCX),
    );
    refused(
        &mut m,
        Op::PageReclaim { page: POOL },
        TdxError::bare(TdxStatus::TDX_LIFECYCLE_STATE_INCORRECT),
    );
}

#[test]
fn op_states_gate_the_build_and_run_leaves() {
    let mut m = running(0);
    refused(
        &mut m,
        Op::PageAdd {
            tdr: TD_A.tdr,
            gpa: 0x1000,
            page: POOL + 0x1000,
            source: SOURCE_PAGE,
        },
        TdxError::bare(TdxStatus::TDX_OP_STATE_INCORRECT),
    );
    refused(
        &mut m,
        Op::MrFinalize { tdr: TD_A.tdr },
        TdxError::bare(TdxStatus::TDX_OP_STATE_INCORRECT),
    );
    assert_eq!(m.tds[&1].op_state, OpState::OP_STATE_RUNNABLE);

    // Before MR.FINALIZE: no VP.ENTER, no PAGE.ADD with a private source.
    let mut m = module();
    let mut r = Run::new(&mut m);
    for op in lab::build_ops(&TD_B, 0, &[]).into_iter().take(9) {
        assert!(matches!(r.op(op), Event::Leaf(Ok(_))));
    }
    refused(
        &mut m,
        Op::VpEnter { tdvpr: TD_B.tdvpr },
        TdxError::bare(TdxStatus::TDX_OP_STATE_INCORRECT),
    );
    refused(
        &mut m,
        Op::PageAdd {
            tdr: TD_B.tdr,
            gpa: 0,
            page: POOL,
            source: (17u64 << 40) | SOURCE_PAGE,
        },
        e(TdxStatus::TDX_OPERAND_INVALID, OperandId::R9),
    );
}

#[test]
fn aug_accept_block_track_remove_walks_the_sept_and_pamt_states() {
    let mut m = running(0);
    let (tdr, tdvpr) = (TD_A.tdr, TD_A.tdvpr);
    let page = POOL + 0x2000;
    ok(
        &mut m,
        Op::PageAug {
            tdr,
            gpa: 0x2000,
            level: 0,
            page,
        },
    );
    let s = sept(&mut m, 0x2000, 0);
    assert_eq!(
        (s.state, s.state.public(), s.state.encoding(), s.hpa),
        (SeptState::PENDING, 2, 0x70, page)
    );
    let p = *m.pamt.get(page / 4096).unwrap();
    assert_eq!((p.pt as u8, p.owner), (3, TD_A.tdr / 4096));

    assert_eq!(
        m.apply(&Op::Accept {
            tdvpr,
            gpa: 0x2000,
            level: 0
        }),
        Event::Guest(GuestEvent::Done)
    );
    assert_eq!(sept(&mut m, 0x2000, 0).state.public(), 4);
    assert_eq!(
        m.apply(&Op::Accept {
            tdvpr,
            gpa: 0x2000,
            level: 0
        }),
        Event::Guest(GuestEvent::Status(e(
            TdxStatus::TDX_PAGE_ALREADY_ACCEPTED,
            OperandId::RCX
        )))
    );
    // ACCEPT zeroed the page with the TD key.
    let Event::Guest(GuestEvent::Data(d)) = m.apply(&Op::Load { tdvpr, gpa: 0x2040 }) else {
        panic!()
    };
    assert_eq!(d, [0; 64]);
    m.apply(&Op::Store {
        tdvpr,
        gpa: 0x2040,
        byte: 9,
    });

    refused(
        &mut m,
        Op::PageRemove {
            tdr,
            gpa: 0x2000,
            level: 0,
        },
        e(TdxStatus::TDX_GPA_RANGE_NOT_BLOCKED, OperandId::RCX),
    );
    ok(
        &mut m,
        Op::RangeBlock {
            tdr,
            gpa: 0x2000,
            level: 0,
        },
    );
    let s = sept(&mut m, 0x2000, 0);
    assert_eq!((s.state.public(), s.state.encoding()), (1, 0x68));
    assert_eq!(
        m.apply(&Op::RangeBlock {
            tdr,
            gpa: 0x2000,
            level: 0
        }),
        Event::Leaf(Err(e(
            TdxStatus::TDX_GPA_RANGE_ALREADY_BLOCKED,
            OperandId::RCX
        )))
    );
    assert!(!TdxStatus::TDX_GPA_RANGE_ALREADY_BLOCKED.is_error());
    refused(
        &mut m,
        Op::PageRemove {
            tdr,
            gpa: 0x2000,
            level: 0,
        },
        e(TdxStatus::TDX_TLB_TRACKING_NOT_DONE, OperandId::RCX),
    );
    ok(&mut m, Op::Track { tdr });
    // The vCPU entered in the previous epoch still runs: not tracked, and a second TRACK is busy.
    refused(
        &mut m,
        Op::PageRemove {
            tdr,
            gpa: 0x2000,
            level: 0,
        },
        e(TdxStatus::TDX_TLB_TRACKING_NOT_DONE, OperandId::RCX),
    );
    refused(
        &mut m,
        Op::Track { tdr },
        TdxError::bare(TdxStatus::TDX_PREVIOUS_TLB_EPOCH_BUSY),
    );
    // The running vCPU still reaches the page through its TLB while it is blocked.
    assert!(
        matches!(m.apply(&Op::Load { tdvpr, gpa: 0x2040 }), Event::Guest(GuestEvent::Data(d)) if d == line_pattern(9))
    );
    assert!(m.vp_exit(tdvpr).is_some());
    assert_eq!(
        ok(
            &mut m,
            Op::PageRemove {
                tdr,
                gpa: 0x2000,
                level: 0
            }
        ),
        LeafOut::Hpa(page)
    );
    assert_eq!(sept(&mut m, 0x2000, 0).state, SeptState::FREE);
    assert_eq!(m.pamt.get(page / 4096).unwrap().pt, PageType::PT_NDA);
    // Re-entering flushes the TLB (the epoch moved): the GPA now faults to the host.
    m.apply(&Op::VpEnter { tdvpr });
    assert_eq!(
        m.apply(&Op::Load { tdvpr, gpa: 0x2040 }),
        Event::Guest(GuestEvent::Exit(TdExit::EptViolation {
            gpa: 0x2040,
            pending: false
        }))
    );
}

#[test]
fn pending_pages_raise_ve_or_exit_by_sept_ve_disable() {
    for (attrs, want_ve) in [(0, true), (ATTR_SEPT_VE_DISABLE, false)] {
        let mut m = running(attrs);
        ok(
            &mut m,
            Op::PageAug {
                tdr: TD_A.tdr,
                gpa: 0x3000,
                level: 0,
                page: POOL + 0x3000,
            },
        );
        let ev = m.apply(&Op::Load {
            tdvpr: TD_A.tdvpr,
            gpa: 0x3000,
        });
        if want_ve {
            assert_eq!(ev, Event::Guest(GuestEvent::Ve { gpa: 0x3000 }));
        } else {
            assert_eq!(
                ev,
                Event::Guest(GuestEvent::Exit(TdExit::EptViolation {
                    gpa: 0x3000,
                    pending: true
                }))
            );
        }
    }
}

#[test]
fn a_poisoned_read_makes_the_td_fatal() {
    let mut m = running(0);
    m.apply(&Op::Store {
        tdvpr: TD_A.tdvpr,
        gpa: 0x0,
        byte: 1,
    });
    m.apply(&Op::HostWrite {
        pa: POOL,
        keyid: 0,
        byte: 2,
        len: 64,
    });
    assert_eq!(
        m.apply(&Op::Load {
            tdvpr: TD_A.tdvpr,
            gpa: 0x0
        }),
        Event::Guest(GuestEvent::Exit(TdExit::MachineCheck { pa: POOL }))
    );
    let ev = m.apply(&Op::VpEnter { tdvpr: TD_A.tdvpr });
    let Event::Enter(Err(err)) = ev else {
        panic!("{ev}")
    };
    assert_eq!(err.raw(), 0xE000_0604_0000_0000);
}

#[test]
fn teardown_reclaims_every_page() {
    let mut m = running(0);
    refused(
        &mut m,
        Op::VpFlushDone { tdr: TD_A.tdr },
        TdxError::bare(TdxStatus::TDX_FLUSHVP_NOT_DONE),
    );
    m.vp_exit(TD_A.tdvpr);
    ok(&mut m, Op::VpFlushDone { tdr: TD_A.tdr });
    ok(&mut m, Op::KeyFreeId { tdr: TD_A.tdr });
    refused(
        &mut m,
        Op::PageReclaim { page: TD_A.tdr },
        TdxError::bare(TdxStatus::TDX_TD_ASSOCIATED_PAGES_EXIST),
    );
    for p in [
        POOL,
        TD_A.sept[2],
        TD_A.sept[1],
        TD_A.sept[0],
        TD_A.tdvpr,
        TD_A.tdcx,
    ] {
        ok(&mut m, Op::PageReclaim { page: p });
    }
    assert_eq!(
        ok(&mut m, Op::PageReclaim { page: TD_A.tdr }),
        LeafOut::Reclaimed(PageType::PT_TDR, TD_A.tdr)
    );
    assert_eq!(m.pamt.assigned().count(), 0);
    assert!(m.tds.is_empty() && m.hkids.is_empty());
}

#[test]
fn mrtd_is_sha384_of_the_page_add_and_mr_extend_blocks() {
    let m = running(0);
    // tdx.md §4.1: 128-byte "MEM.PAGE.ADD" block with the GPA at 16..24, then "MR.EXTEND" block and
    // the 256 bytes measured (the source page the host wrote: byte i = 0x5A ^ i).
    let mut h = Sha384::new();
    let mut b = [0u8; 128];
    b[..12].copy_from_slice(b"MEM.PAGE.ADD");
    h.update(b);
    let mut b = [0u8; 128];
    b[..9].copy_from_slice(b"MR.EXTEND");
    h.update(b);
    let chunk: Vec<u8> = (0..256).map(|i| 0x5A ^ (i as u8)).collect();
    h.update(&chunk);
    assert_eq!(m.tds[&(TD_A.tdr / 4096)].mrtd[..], h.finalize()[..]);
}

struct FixedReport;

impl ReportProvider for FixedReport {
    fn tdreport(&self, td: &TdMeasurements, report_data: &[u8; 64]) -> [u8; 1024] {
        let mut r = [0u8; 1024];
        r[..64].copy_from_slice(report_data);
        r[64..112].copy_from_slice(&td.mrtd);
        r[112..160].copy_from_slice(&td.rtmr[2]);
        r
    }
}

#[test]
fn rtmr_extend_and_report_go_through_the_hooks() {
    let mut m = running(0);
    let tdvpr = TD_A.tdvpr;
    m.apply(&Op::Store {
        tdvpr,
        gpa: 0x400,
        byte: 0x44,
    });
    assert_eq!(
        m.apply(&Op::RtmrExtend {
            tdvpr,
            gpa: 0x400,
            index: 4
        }),
        Event::Guest(GuestEvent::Status(e(
            TdxStatus::TDX_OPERAND_INVALID,
            OperandId::RDX
        )))
    );
    assert_eq!(
        m.apply(&Op::RtmrExtend {
            tdvpr,
            gpa: 0x400,
            index: 2
        }),
        Event::Guest(GuestEvent::Done)
    );
    let mut h = Sha384::new();
    h.update([0u8; 48]);
    h.update(&line_pattern(0x44)[..48]);
    let rtmr2: [u8; 48] = h.finalize().into();
    assert_eq!(m.tds[&(TD_A.tdr / 4096)].rtmr[2], rtmr2);

    assert_eq!(
        m.apply(&Op::MrReport {
            tdvpr,
            gpa: 0x800,
            data: 0x400
        }),
        Event::Guest(GuestEvent::Status(e(
            TdxStatus::TDX_OPERAND_INVALID,
            OperandId::RAX
        )))
    );
    m.report = Some(Box::new(FixedReport));
    assert_eq!(
        m.apply(&Op::MrReport {
            tdvpr,
            gpa: 0x800,
            data: 0x400
        }),
        Event::Guest(GuestEvent::Done)
    );
    let Event::Guest(GuestEvent::Data(d)) = m.apply(&Op::Load { tdvpr, gpa: 0x800 }) else {
        panic!()
    };
    assert_eq!(d, line_pattern(0x44));
    let Event::Guest(GuestEvent::Data(d)) = m.apply(&Op::Load { tdvpr, gpa: 0x880 }) else {
        panic!()
    };
    assert_eq!(&d[..32], &rtmr2[16..48]);
}

#[test]
fn demote_and_promote_keep_the_data() {
    let mut m = running(0);
    let (tdr, tdvpr) = (TD_A.tdr, TD_A.tdvpr);
    let big = 0x20_0000;
    ok(
        &mut m,
        Op::PageAug {
            tdr,
            gpa: big,
            level: 1,
            page: big,
        },
    );
    assert_eq!(
        m.apply(&Op::Accept {
            tdvpr,
            gpa: big,
            level: 0
        }),
        Event::Guest(GuestEvent::Status(e(
            TdxStatus::TDX_PAGE_SIZE_MISMATCH,
            OperandId::RCX
        )))
    );
    assert_eq!(
        m.apply(&Op::Accept {
            tdvpr,
            gpa: big,
            level: 1
        }),
        Event::Guest(GuestEvent::Done)
    );
    m.apply(&Op::Store {
        tdvpr,
        gpa: big + 0x5040,
        byte: 0x31,
    });
    refused(
        &mut m,
        Op::PageDemote {
            tdr,
            gpa: big,
            level: 1,
            page: POOL + 0x4000,
        },
        e(TdxStatus::TDX_GPA_RANGE_NOT_BLOCKED, OperandId::RCX),
    );
    ok(
        &mut m,
        Op::RangeBlock {
            tdr,
            gpa: big,
            level: 1,
        },
    );
    ok(&mut m, Op::Track { tdr });
    m.vp_exit(tdvpr);
    ok(
        &mut m,
        Op::PageDemote {
            tdr,
            gpa: big,
            level: 1,
            page: POOL + 0x4000,
        },
    );
    assert_eq!(sept(&mut m, big, 1).state, SeptState::NL_MAPPED);
    assert_eq!(sept(&mut m, big + 0x5000, 0).hpa, big + 0x5000);
    m.apply(&Op::VpEnter { tdvpr });
    assert!(
        matches!(m.apply(&Op::Load { tdvpr, gpa: big + 0x5040 }), Event::Guest(GuestEvent::Data(d)) if d == line_pattern(0x31))
    );
    ok(
        &mut m,
        Op::RangeBlock {
            tdr,
            gpa: big,
            level: 1,
        },
    );
    ok(&mut m, Op::Track { tdr });
    m.vp_exit(tdvpr);
    assert_eq!(
        ok(
            &mut m,
            Op::PagePromote {
                tdr,
                gpa: big,
                level: 1
            }
        ),
        LeafOut::Hpa(POOL + 0x4000)
    );
    assert_eq!(sept(&mut m, big, 1).state, SeptState::MAPPED);
    m.apply(&Op::VpEnter { tdvpr });
    assert!(
        matches!(m.apply(&Op::Load { tdvpr, gpa: big + 0x5040 }), Event::Guest(GuestEvent::Data(d)) if d == line_pattern(0x31))
    );
}

#[test]
fn the_shared_bit_selects_the_hosts_ept() {
    let mut m = running(0);
    let tdvpr = TD_A.tdvpr;
    let gpa = SHARED_BIT | 0x7000;
    assert_eq!(
        m.apply(&Op::Store {
            tdvpr,
            gpa,
            byte: 5
        }),
        Event::Guest(GuestEvent::Exit(TdExit::EptViolation {
            gpa,
            pending: false
        }))
    );
    m.apply(&Op::SharedMap {
        tdr: TD_A.tdr,
        gpa,
        hpa: POOL + 0x6000,
        keyid: 0,
    });
    // Entering retries the faulted store, now through the shared mapping.
    assert_eq!(
        m.apply(&Op::VpEnter { tdvpr }),
        Event::Enter(Ok(Entry::Running(Some(GuestEvent::Done))))
    );
    let Event::HostRead(Ok(d)) = m.apply(&Op::HostRead {
        pa: POOL + 0x6000,
        keyid: 0,
        len: 64,
    }) else {
        panic!()
    };
    assert_eq!(d, line_pattern(5).to_vec());
    assert!(matches!(
        m.apply(&Op::VmCall {
            tdvpr,
            r11: 0x10001
        }),
        Event::Guest(GuestEvent::Exit(TdExit::VmCall { subfn: 0x10001 }))
    ));
    assert_eq!(
        m.apply(&Op::Load { tdvpr, gpa: 0 }),
        Event::Guest(GuestEvent::NotRunning)
    );
}
