//! A fixed physical layout and the host's build sequence for one or two TDs, shared by the attack
//! scenarios, the fuzzer, the tests and the benchmark.
//!
//! TD A: TDR 0x1000, TDCX 0x2000, TDVPR 0x3000, SEPT pages 0x4000/0x5000/0x6000, HKID 16.
//! TD B: TDR 0x8000, TDCX 0x9000, TDVPR 0xA000, SEPT pages 0xB000/0xC000/0xD000, HKID 17.
//! The host's PAGE.ADD source page is 0x7000 (KeyID 0). Private 4 KiB pages come from 0x10000 up;
//! 2 MiB-aligned blocks start at 0x200000 and 0x400000. Each TD maps GPA 0..2 MiB through 4 KiB SEPT
//! entries and may map GPA 0x200000 as one 2 MiB page.

use sim_core::scenario::TraceEvent;

use super::ops::{Event, Op};
use super::seamcall::TdxModule;

/// Addresses of one TD in the lab layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TdLayout {
    /// TDR page.
    pub tdr: u64,
    /// TDCX page.
    pub tdcx: u64,
    /// TDVPR page.
    pub tdvpr: u64,
    /// SEPT pages for levels 3 (PDPT), 2 (PD), 1 (PT of GPA 0..2 MiB).
    pub sept: [u64; 3],
    /// HKID.
    pub hkid: u16,
}

/// TD A.
pub const TD_A: TdLayout = TdLayout {
    tdr: 0x1000,
    tdcx: 0x2000,
    tdvpr: 0x3000,
    sept: [0x4000, 0x5000, 0x6000],
    hkid: 16,
};

/// TD B.
pub const TD_B: TdLayout = TdLayout {
    tdr: 0x8000,
    tdcx: 0x9000,
    tdvpr: 0xA000,
    sept: [0xB000, 0xC000, 0xD000],
    hkid: 17,
};

/// The host page PAGE.ADD copies from.
pub const SOURCE_PAGE: u64 = 0x7000;
/// First private 4 KiB page of the pool.
pub const POOL: u64 = 0x10000;
/// First 2 MiB-aligned block.
pub const BLOCK_2M: u64 = 0x20_0000;

/// A sequence of operations applied in order, with the trace.
pub struct Run<'a> {
    /// The machine.
    pub m: &'a mut TdxModule,
    /// Every step so far.
    pub steps: Vec<TraceEvent>,
}

impl<'a> Run<'a> {
    /// A run on `m`.
    pub fn new(m: &'a mut TdxModule) -> Self {
        Self {
            m,
            steps: Vec::new(),
        }
    }

    /// Applies `op`, records it, returns the event.
    pub fn op(&mut self, op: Op) -> Event {
        let (ev, te) = self.m.step(&op);
        self.steps.push(te);
        ev
    }

    /// Records a note from the TDX module or the verifier (not an operation).
    pub fn note(&mut self, actor: &str, op: &str, result: &str) {
        self.steps.push(TraceEvent {
            actor: actor.to_string(),
            op: op.to_string(),
            result: result.to_string(),
        });
    }
}

/// The build sequence of a TD (tdx.md §5.2): CREATE, KEY.CONFIG, ADDCX, INIT, VP.CREATE, VP.INIT,
/// SEPT.ADD ×3, PAGE.ADD of `pages` 4 KiB pages at GPA 0, 0x1000, ... (+ MR.EXTEND of the first 256
/// bytes of each), MR.FINALIZE. The source page holds the host's initial image.
pub fn build_ops(td: &TdLayout, attributes: u64, pages: &[u64]) -> Vec<Op> {
    let mut ops = vec![
        Op::MngCreate {
            tdr: td.tdr,
            hkid: u64::from(td.hkid),
        },
        Op::MngKeyConfig { tdr: td.tdr },
        Op::MngAddCx {
            tdr: td.tdr,
            page: td.tdcx,
        },
        Op::MngInit {
            tdr: td.tdr,
            attributes,
        },
        Op::VpCreate {
            tdr: td.tdr,
            tdvpr: td.tdvpr,
        },
        Op::VpInit { tdvpr: td.tdvpr },
    ];
    for (i, l) in [3u64, 2, 1].iter().enumerate() {
        ops.push(Op::SeptAdd {
            tdr: td.tdr,
            gpa: 0,
            level: *l,
            page: td.sept[i],
        });
    }
    for (i, p) in pages.iter().enumerate() {
        let gpa = (i as u64) * 0x1000;
        ops.push(Op::PageAdd {
            tdr: td.tdr,
            gpa,
            page: *p,
            source: SOURCE_PAGE,
        });
        ops.push(Op::MrExtend { tdr: td.tdr, gpa });
    }
    ops.push(Op::MrFinalize { tdr: td.tdr });
    ops
}

/// Writes the host's initial image into the source page and builds a TD; returns false if any step
/// failed.
pub fn build(run: &mut Run<'_>, td: &TdLayout, attributes: u64, pages: &[u64]) -> bool {
    let mut ok = matches!(
        run.op(Op::HostWrite {
            pa: SOURCE_PAGE,
            keyid: 0,
            byte: 0x5A,
            len: 4096,
        }),
        Event::HostWrite(Ok(()))
    );
    for op in build_ops(td, attributes, pages) {
        ok &= matches!(run.op(op), Event::Leaf(Ok(_)));
    }
    ok
}
