//! The invariant fuzzer: random host, guest and physical operations against the model, checked after
//! every step against a shadow of what the TDs wrote and a reference of the legal transitions.
//!
//! Invariants (a violation names one):
//! - `confidentiality`: a host read of a line a TD wrote returns zeros (no plaintext, no ciphertext).
//! - `integrity`: a TD read returns what the TD last wrote there, or a machine check when the line was
//!   tampered with; never a silent substitute, never a spurious #MC on an intact line. Out of the
//!   threat model, and so exempt: a physical replay of an old (ciphertext, MAC) at the same address, and
//!   physical corruption under logical integrity.
//! - `ownership`: every SEPT leaf maps PT_REG pages the PAMT gives to that TD, no page is mapped twice,
//!   SEPT pages are PT_EPT of their TD, and every assigned page's owner TD exists.
//! - `tlb`: a running vCPU holds translations only to pages its TD still maps there.
//! - `transition`: a host leaf either succeeds with a legal transition (the reference of tdx.md §5.2–§5.4)
//!   or returns an error and changes nothing.
//! - `ve-policy`: a TD with SEPT_VE_DISABLE never takes an EPT #VE.
//! - `single-step` / `zero-step`: the host never gets 8 one-instruction timer exits in a row, nor more
//!   than 7 executions of a faulting instruction without progress.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand_chacha::rand_core::RngCore;
use sim_core::rules::RuleSet;
use sim_core::scenario::{FuzzReport, TraceEvent, Violation};

use super::guest::{line_pattern, Entry, GuestEvent, TdExit};
use super::lab::{self, POOL, SOURCE_PAGE, TD_A, TD_B};
use super::ops::{Event, Op};
use super::pamt::{PageType, Pamt};
use super::seamcall::{
    Config, Lifecycle, OpState, Td, TdxModule, Vcpu, ATTR_SEPT_VE_DISABLE, SHARED_BIT,
    STEPPING_EPF_THRESHOLD,
};
use super::sept::{level_size, SeptState};
use super::tme::{self, IntegrityMode, KeyIdKind, LINES_PER_PAGE, LINE_SIZE, PAGE_SIZE};

/// Operations drawn per case (a macro such as "remove by the protocol" counts once).
pub const OPS_PER_CASE: usize = 40;

/// Where the generator's choices come from: the seeded ChaCha stream, or a list (proptest shrinks it).
pub trait Choices {
    /// A number in `0..n` (`n > 0`).
    fn pick(&mut self, n: u32) -> u32;
}

impl Choices for sim_core::rng::ChaCha20Rng {
    fn pick(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n.max(1))) as u32
    }
}

/// Choices from a list, then zeros.
pub struct ListChoices<'a> {
    list: &'a [u32],
    at: usize,
}

impl<'a> ListChoices<'a> {
    /// Choices from `list`.
    pub fn new(list: &'a [u32]) -> Self {
        Self { list, at: 0 }
    }
}

impl Choices for ListChoices<'_> {
    fn pick(&mut self, n: u32) -> u32 {
        let v = self.list.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v % n.max(1)
    }
}

/// TD C, created by the fuzzer mid-run.
const TD_C_TDR: u64 = 0xE000;
const TD_C_TDCX: u64 = 0xF000;
const GPAS: [u64; 4] = [0x0, 0x1000, 0x2000, 0x3000];
const BIG_GPA: u64 = 0x20_0000;
const POOL_PAGES: u64 = 12;
const BLOCKS_2M: [u64; 2] = [0x20_0000, 0x40_0000];
const HOST_KEYIDS: [u64; 4] = [0, 1, 16, 17];

fn pick_td(c: &mut dyn Choices) -> &'static lab::TdLayout {
    if c.pick(3) == 0 {
        &TD_B
    } else {
        &TD_A
    }
}

fn pick_page(c: &mut dyn Choices) -> u64 {
    match c.pick(16) {
        0 => BLOCKS_2M[0],
        1 => BLOCKS_2M[1],
        2 => [TD_A.tdr, TD_A.sept[2], TD_B.tdcx, SOURCE_PAGE][c.pick(4) as usize],
        _ => POOL + u64::from(c.pick(POOL_PAGES as u32)) * 0x1000,
    }
}

fn pick_gpa(c: &mut dyn Choices) -> (u64, u64) {
    if c.pick(10) == 0 {
        (BIG_GPA, 1)
    } else {
        (GPAS[c.pick(4) as usize], 0)
    }
}

fn pick_line(c: &mut dyn Choices) -> u64 {
    u64::from(c.pick(3)) * 0x40
}

/// Draws the next operations (one choice; macros give several).
pub fn next_ops(c: &mut dyn Choices) -> Vec<Op> {
    let td = pick_td(c);
    let (gpa, level) = pick_gpa(c);
    let line = pick_line(c);
    let tdr = td.tdr;
    let tdvpr = td.tdvpr;
    let k = c.pick(106);
    let own = if td.tdr == TD_A.tdr {
        POOL
    } else {
        POOL + 0x1000
    };
    match k {
        0..=13 => vec![Op::Load {
            tdvpr,
            gpa: gpa + line,
        }],
        14..=25 => vec![Op::Store {
            tdvpr,
            gpa: gpa + line,
            byte: u64::from(c.pick(256)),
        }],
        26..=33 => vec![Op::Accept { tdvpr, gpa, level }],
        34..=41 => {
            let page = if level == 1 {
                BLOCKS_2M[c.pick(2) as usize]
            } else {
                pick_page(c)
            };
            vec![Op::PageAug {
                tdr,
                gpa,
                level,
                page,
            }]
        }
        42..=46 => vec![Op::RangeBlock { tdr, gpa, level }],
        47..=48 => vec![Op::RangeUnblock { tdr, gpa, level }],
        49..=52 => vec![Op::Track { tdr }],
        53..=57 => vec![Op::Ipi { tdvpr }],
        58..=63 => vec![Op::VpEnter { tdvpr }],
        64..=67 => vec![Op::PageRemove { tdr, gpa, level }],
        68..=69 => vec![Op::PageRelocate {
            tdr,
            gpa,
            page: pick_page(c),
        }],
        70 => vec![Op::PageDemote {
            tdr,
            gpa: BIG_GPA,
            level: 1,
            page: pick_page(c),
        }],
        71 => vec![Op::PagePromote {
            tdr,
            gpa: BIG_GPA,
            level: 1,
        }],
        72..=74 => vec![
            Op::RangeBlock { tdr, gpa, level },
            Op::Track { tdr },
            Op::Ipi { tdvpr },
            Op::PageRemove { tdr, gpa, level },
        ],
        75..=80 => vec![Op::HostRead {
            pa: pick_page(c) + line,
            keyid: HOST_KEYIDS[c.pick(4) as usize],
            len: 64,
        }],
        81..=84 => vec![Op::HostWrite {
            pa: pick_page(c) + line,
            keyid: if c.pick(4) == 0 {
                HOST_KEYIDS[c.pick(4) as usize]
            } else {
                0
            },
            byte: u64::from(c.pick(256)),
            len: 64,
        }],
        85 => vec![
            Op::SharedMap {
                tdr,
                gpa: SHARED_BIT | 0x1000,
                hpa: pick_page(c),
                keyid: 0,
            },
            Op::Store {
                tdvpr,
                gpa: SHARED_BIT | 0x1000 | line,
                byte: u64::from(c.pick(256)),
            },
        ],
        86 => vec![Op::DramCopyOut {
            pfn: pick_page(c) / 0x1000,
            slot: u64::from(c.pick(2)),
        }],
        87 => vec![Op::DramCopyIn {
            pfn: pick_page(c) / 0x1000,
            slot: u64::from(c.pick(2)),
        }],
        88 => vec![Op::DramFlip {
            pa: pick_page(c) + line + u64::from(c.pick(64)),
            bit: u64::from(c.pick(8)),
        }],
        89 => (0..9)
            .map(|_| Op::VpEnterTimer { tdvpr, tsc: 100 })
            .collect(),
        90 => {
            let mut v = vec![
                Op::RangeBlock { tdr, gpa, level },
                Op::Track { tdr },
                Op::Ipi { tdvpr },
                Op::VpEnter { tdvpr },
                Op::Load { tdvpr, gpa },
            ];
            v.extend((0..9).map(|_| Op::VpEnter { tdvpr }));
            v
        }
        91 => {
            let t = &TD_B;
            let mut v = vec![
                Op::Ipi { tdvpr: t.tdvpr },
                Op::VpFlushDone { tdr: t.tdr },
                Op::KeyFreeId { tdr: t.tdr },
                Op::PageReclaim { page: t.tdr },
            ];
            if c.pick(2) == 0 {
                for p in [
                    t.tdvpr,
                    t.tdcx,
                    t.sept[2],
                    t.sept[1],
                    t.sept[0],
                    POOL + 0x1000,
                    t.tdr,
                ] {
                    v.push(Op::PageReclaim { page: p });
                }
            }
            v
        }
        92 => vec![
            Op::MngCreate {
                tdr: TD_C_TDR,
                hkid: 16 + u64::from(c.pick(3)),
            },
            Op::MngKeyConfig { tdr: TD_C_TDR },
            Op::MngAddCx {
                tdr: TD_C_TDR,
                page: TD_C_TDCX,
            },
            Op::MngInit {
                tdr: TD_C_TDR,
                attributes: 0,
            },
        ],
        93 => vec![Op::PageAdd {
            tdr,
            gpa,
            page: pick_page(c),
            source: SOURCE_PAGE,
        }],
        94..=95 => vec![Op::PageReclaim { page: pick_page(c) }],
        96 => vec![Op::SeptRd { tdr, gpa, level }],
        97 => vec![Op::SeptRemove {
            tdr,
            gpa: 0,
            level: 1,
        }],
        98 => vec![Op::VpInit { tdvpr }],
        99 => vec![Op::MrFinalize { tdr }],
        // Tamper with the page the TD built with (GPA 0), then let the TD read it.
        100..=101 => vec![
            Op::HostWrite {
                pa: own + line,
                keyid: 0,
                byte: u64::from(c.pick(256)),
                len: 64,
            },
            Op::VpEnter { tdvpr },
            Op::Load { tdvpr, gpa: line },
        ],
        102..=103 => vec![
            Op::DramFlip {
                pa: own + line + u64::from(c.pick(64)),
                bit: u64::from(c.pick(8)),
            },
            Op::VpEnter { tdvpr },
            Op::Load { tdvpr, gpa: line },
        ],
        _ => vec![
            Op::DramCopyOut {
                pfn: POOL / 0x1000 + 1,
                slot: 0,
            },
            Op::DramCopyIn {
                pfn: POOL / 0x1000,
                slot: 0,
            },
            Op::VpEnter { tdvpr: TD_A.tdvpr },
            Op::Load {
                tdvpr: TD_A.tdvpr,
                gpa: line,
            },
        ],
    }
}

/// The shadow of one 64-byte line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// Never written, or written in a way the shadow cannot predict.
    Unknown,
    /// Last written by TD `tdr` (frame number) with this plaintext.
    Td(u64, [u8; LINE_SIZE]),
    /// Last written by software outside SEAM through this KeyID, with this plaintext.
    Host(u16, [u8; LINE_SIZE]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tamper {
    None,
    /// Physically changed; the hardware must detect it (Ci).
    Detectable,
    /// Physically changed in a way the threat model leaves undetected.
    Exempt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Line {
    owner: Owner,
    tamper: Tamper,
}

const UNKNOWN: Line = Line {
    owner: Owner::Unknown,
    tamper: Tamper::None,
};

/// The state of a host leaf's world before it ran.
struct Pre {
    tds: BTreeMap<u64, Td>,
    pamt: Pamt,
    vcpus: BTreeMap<u64, Vcpu>,
    hkids: BTreeSet<u16>,
}

/// Runs operations on a model and checks every invariant after each.
pub struct Checker {
    /// The model.
    pub m: TdxModule,
    mode: IntegrityMode,
    shadow: HashMap<u64, Line>,
    slots: HashMap<u64, (u64, Vec<Line>)>,
    /// The trace so far.
    pub trace: Vec<TraceEvent>,
}

fn vio(invariant: &str, detail: String) -> Violation {
    Violation {
        invariant: invariant.to_string(),
        detail,
        trace: Vec::new(),
    }
}

impl Checker {
    /// A fresh machine.
    pub fn new(mode: IntegrityMode, rules: RuleSet, seed: u64) -> Self {
        Self {
            m: TdxModule::new(
                Config {
                    frames: 2048,
                    integrity: mode,
                    seed,
                },
                rules,
            ),
            mode,
            shadow: HashMap::new(),
            slots: HashMap::new(),
            trace: Vec::new(),
        }
    }

    fn line(&self, pa: u64) -> Line {
        self.shadow
            .get(&(pa & !(LINE_SIZE as u64 - 1)))
            .copied()
            .unwrap_or(UNKNOWN)
    }

    fn set(&mut self, pa: u64, l: Line) {
        self.shadow.insert(pa & !(LINE_SIZE as u64 - 1), l);
    }

    fn physical_tamper(&self) -> Tamper {
        match self.mode {
            IntegrityMode::Cryptographic => Tamper::Detectable,
            IntegrityMode::Logical => Tamper::Exempt,
        }
    }

    /// Applies `op`, updates the shadow, checks the invariants.
    pub fn step(&mut self, op: &Op) -> Result<Event, Violation> {
        let host_leaf = op.actor() == super::ops::Actor::Host
            && !matches!(
                op,
                Op::Ipi { .. } | Op::HostRead { .. } | Op::HostWrite { .. } | Op::SharedMap { .. }
            );
        let pre = host_leaf.then(|| Pre {
            tds: self.m.tds.clone(),
            pamt: self.m.pamt.clone(),
            vcpus: self.m.vcpus.clone(),
            hkids: self.m.hkids.clone(),
        });
        let pre_vcpus = if host_leaf {
            None
        } else {
            Some(self.m.vcpus.clone())
        };
        let (ev, te) = self.m.step(op);
        self.trace.push(te);
        let r = self
            .check_op(op, &ev, pre.as_ref(), pre_vcpus.as_ref())
            .and_then(|()| self.check_global());
        match r {
            Ok(()) => Ok(ev),
            Err(mut v) => {
                v.trace = self.trace.clone();
                Err(v)
            }
        }
    }

    fn vcpus_before<'a>(
        pre: Option<&'a Pre>,
        pre_vcpus: Option<&'a BTreeMap<u64, Vcpu>>,
    ) -> Option<&'a BTreeMap<u64, Vcpu>> {
        pre.map(|p| &p.vcpus).or(pre_vcpus)
    }

    fn check_op(
        &mut self,
        op: &Op,
        ev: &Event,
        pre: Option<&Pre>,
        pre_vcpus: Option<&BTreeMap<u64, Vcpu>>,
    ) -> Result<(), Violation> {
        match ev {
            Event::Leaf(Err(e)) | Event::Enter(Err(e)) => {
                if let Some(p) = pre {
                    if p.tds != self.m.tds
                        || p.pamt != self.m.pamt
                        || p.vcpus != self.m.vcpus
                        || p.hkids != self.m.hkids
                    {
                        return Err(vio(
                            "transition",
                            format!("{} returned {e} but changed the module state", op.name()),
                        ));
                    }
                }
                return Ok(());
            }
            Event::Leaf(Ok(_)) => {
                if let Some(p) = pre {
                    self.legal(p, op).map_err(|d| vio("transition", d))?;
                }
                self.shadow_leaf(op, pre);
            }
            Event::Enter(Ok(entry)) => {
                if let Some(p) = pre {
                    self.legal(p, op).map_err(|d| vio("transition", d))?;
                }
                if let Entry::Running(Some(g)) = entry {
                    let vpfn = op_tdvpr(op) / PAGE_SIZE as u64;
                    let pending = Self::vcpus_before(pre, pre_vcpus)
                        .and_then(|v| v.get(&vpfn))
                        .and_then(|v| v.pending);
                    if let Some(p) = pending {
                        self.guest_event(vpfn, p.gpa, p.write, g)?;
                    }
                }
            }
            Event::Guest(g) => {
                let vpfn = op_tdvpr(op) / PAGE_SIZE as u64;
                match op {
                    Op::Load { gpa, .. } => self.guest_event(vpfn, *gpa, None, g)?,
                    Op::Store { gpa, byte, .. } => {
                        self.guest_event(vpfn, *gpa, Some(*byte as u8), g)?
                    }
                    Op::Accept { gpa, level, .. } => {
                        if *g == GuestEvent::Done {
                            self.accepted(vpfn, *gpa, *level);
                        }
                        if let GuestEvent::Exit(TdExit::MachineCheck { pa }) = g {
                            self.check_mc(vpfn, *pa)?;
                        }
                    }
                    _ => {}
                }
            }
            Event::HostRead(Ok(d)) => {
                if let Op::HostRead { pa, .. } = op {
                    for (i, chunk) in d.chunks(LINE_SIZE).enumerate() {
                        let la = pa + (i * LINE_SIZE) as u64;
                        if let Owner::Td(t, _) = self.line(la).owner {
                            if chunk.iter().any(|b| *b != 0) {
                                return Err(vio(
                                    "confidentiality",
                                    format!(
                                        "host read of line 0x{la:x} (written by TD 0x{:x}) returned {}",
                                        t * PAGE_SIZE as u64,
                                        hex::encode(&chunk[..chunk.len().min(16)])
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
            Event::HostWrite(Ok(())) => {
                if let Op::HostWrite {
                    pa,
                    len,
                    keyid,
                    byte,
                } = *op
                {
                    // WRITE puts `byte ^ i` at offset i of the access; the fuzzer's writes are
                    // line-aligned.
                    let mut a = pa & !(LINE_SIZE as u64 - 1);
                    while a < pa + len {
                        let mut d = [0u8; LINE_SIZE];
                        for (j, x) in d.iter_mut().enumerate() {
                            *x = (byte as u8) ^ ((a - pa) as u8).wrapping_add(j as u8);
                        }
                        self.set(
                            a,
                            Line {
                                owner: Owner::Host(keyid as u16, d),
                                tamper: Tamper::None,
                            },
                        );
                        a += LINE_SIZE as u64;
                    }
                }
            }
            Event::Physical(true) => self.shadow_physical(op),
            _ => {}
        }
        Ok(())
    }

    fn td_of_vcpu(&self, vpfn: u64) -> Option<&Td> {
        self.m.vcpus.get(&vpfn).and_then(|v| self.m.tds.get(&v.tdr))
    }

    fn hpa_of(&self, vpfn: u64, gpa: u64) -> Option<u64> {
        let page = gpa & !(PAGE_SIZE as u64 - 1);
        self.m
            .vcpus
            .get(&vpfn)
            .and_then(|v| v.tlb.get(&page))
            .map(|h| h + (gpa & (PAGE_SIZE as u64 - 1) & !(LINE_SIZE as u64 - 1)))
    }

    fn check_mc(&self, vpfn: u64, pa: u64) -> Result<(), Violation> {
        let tdr = self.m.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
        let l = self.line(pa);
        if let (Owner::Td(t, _), Tamper::None) = (l.owner, l.tamper) {
            if t == tdr {
                return Err(vio(
                    "integrity",
                    format!("#MC on line 0x{pa:x}, which the TD wrote (or accepted zeroed) and nobody touched since"),
                ));
            }
        }
        Ok(())
    }

    fn guest_event(
        &mut self,
        vpfn: u64,
        gpa: u64,
        write: Option<u8>,
        g: &GuestEvent,
    ) -> Result<(), Violation> {
        let shared = gpa & SHARED_BIT != 0;
        match g {
            GuestEvent::Ve { gpa }
                if self.td_of_vcpu(vpfn).is_some_and(|t| t.sept_ve_disable()) =>
            {
                return Err(vio(
                    "ve-policy",
                    format!("#VE on GPA 0x{gpa:x} in a TD with SEPT_VE_DISABLE=1"),
                ));
            }
            GuestEvent::Exit(TdExit::MachineCheck { pa }) => self.check_mc(vpfn, *pa)?,
            GuestEvent::Done if !shared => {
                if let (Some(b), Some(hpa)) = (write, self.hpa_of(vpfn, gpa)) {
                    let tdr = self.m.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
                    self.set(
                        hpa,
                        Line {
                            owner: Owner::Td(tdr, line_pattern(b)),
                            tamper: Tamper::None,
                        },
                    );
                }
            }
            GuestEvent::Done => {
                let page = gpa & !(PAGE_SIZE as u64 - 1) & !SHARED_BIT;
                let map = self
                    .td_of_vcpu(vpfn)
                    .and_then(|t| t.shared_ept.get(&page).copied());
                if let (Some(h), Some(b)) = (map, write) {
                    let (pa, keyid) = tme::split_pa(h);
                    self.set(
                        pa + (gpa & (PAGE_SIZE as u64 - 1)),
                        Line {
                            owner: Owner::Host(keyid, line_pattern(b)),
                            tamper: Tamper::None,
                        },
                    );
                }
            }
            GuestEvent::Data(d) if !shared => {
                let Some(hpa) = self.hpa_of(vpfn, gpa) else {
                    return Ok(());
                };
                let tdr = self.m.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
                let l = self.line(hpa);
                let bad = match (l.owner, l.tamper) {
                    (_, Tamper::Exempt) => None,
                    (Owner::Td(t, exp), Tamper::None) if t == tdr => (exp != *d).then(|| {
                        format!(
                            "TD read {} at GPA 0x{gpa:x} (HPA 0x{hpa:x}), it wrote {}",
                            hex::encode(&d[..16]),
                            hex::encode(&exp[..16])
                        )
                    }),
                    (Owner::Td(t, _), Tamper::None) => Some(format!(
                        "TD 0x{:x} read a line of TD 0x{:x} at HPA 0x{hpa:x}",
                        tdr * PAGE_SIZE as u64,
                        t * PAGE_SIZE as u64
                    )),
                    (_, Tamper::Detectable) => Some(format!(
                        "TD consumed physically tampered line HPA 0x{hpa:x} without #MC"
                    )),
                    (Owner::Host(..), _) => Some(format!(
                        "TD consumed line HPA 0x{hpa:x}, last written by the host, without #MC"
                    )),
                    (Owner::Unknown, _) => Some(format!(
                        "TD consumed line HPA 0x{hpa:x}, which no TD wrote, without #MC"
                    )),
                };
                if let Some(d) = bad {
                    return Err(vio("integrity", d));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn accepted(&mut self, vpfn: u64, gpa: u64, level: u64) {
        let Some(td) = self.td_of_vcpu(vpfn) else {
            return;
        };
        let tdr = td.tdr;
        let Some((_, e)) = td.sept.leaf(gpa) else {
            return;
        };
        let frames = level_size(level as u8) / PAGE_SIZE as u64;
        for f in 0..frames {
            for i in 0..LINES_PER_PAGE as u64 {
                self.set(
                    e.hpa + f * PAGE_SIZE as u64 + i * LINE_SIZE as u64,
                    Line {
                        owner: Owner::Td(tdr, [0; LINE_SIZE]),
                        tamper: Tamper::None,
                    },
                );
            }
        }
    }

    fn shadow_leaf(&mut self, op: &Op, pre: Option<&Pre>) {
        match *op {
            Op::PageAdd {
                tdr, page, source, ..
            } => {
                let (src, keyid) = tme::split_pa(source);
                let t = tdr / PAGE_SIZE as u64;
                for i in 0..LINES_PER_PAGE as u64 {
                    let s = self.line(src + i * LINE_SIZE as u64);
                    // The module reads the source as software does: TD-owned lines read as zeros,
                    // host lines decrypt under the source KeyID.
                    let l = match (s.owner, s.tamper) {
                        (_, Tamper::Detectable | Tamper::Exempt) | (Owner::Unknown, _) => Line {
                            owner: Owner::Td(t, [0; LINE_SIZE]),
                            tamper: Tamper::Exempt,
                        },
                        (Owner::Td(..), _) => Line {
                            owner: Owner::Td(t, [0; LINE_SIZE]),
                            tamper: Tamper::None,
                        },
                        (Owner::Host(k, d), _) if k == keyid => Line {
                            owner: Owner::Td(t, d),
                            tamper: Tamper::None,
                        },
                        (Owner::Host(..), _) => Line {
                            owner: Owner::Td(t, [0; LINE_SIZE]),
                            tamper: Tamper::Exempt,
                        },
                    };
                    self.set(page + i * LINE_SIZE as u64, l);
                }
            }
            Op::PageRelocate { tdr, gpa, page } => {
                let old = pre
                    .and_then(|p| p.tds.get(&(tdr / PAGE_SIZE as u64)))
                    .map(|t| t.sept.entry(0, gpa).hpa);
                if let Some(old) = old {
                    for i in 0..LINES_PER_PAGE as u64 {
                        let l = self.line(old + i * LINE_SIZE as u64);
                        // Lines the module reads intact move as they are; poisoned ones arrive as
                        // zeros written through KeyID 0.
                        let moved = match (l.owner, l.tamper) {
                            (Owner::Td(..), Tamper::None | Tamper::Exempt) => l,
                            _ => Line {
                                owner: Owner::Host(0, [0; LINE_SIZE]),
                                tamper: Tamper::None,
                            },
                        };
                        self.set(page + i * LINE_SIZE as u64, moved);
                    }
                }
            }
            Op::MngKeyConfig { .. } => {}
            _ => {}
        }
    }

    fn shadow_physical(&mut self, op: &Op) {
        match *op {
            Op::DramCopyOut { pfn, slot } => {
                let lines = (0..LINES_PER_PAGE as u64)
                    .map(|i| self.line(pfn * PAGE_SIZE as u64 + i * LINE_SIZE as u64))
                    .collect();
                self.slots.insert(slot, (pfn, lines));
            }
            Op::DramCopyIn { pfn, slot } => {
                let t = self.physical_tamper();
                if let Some((from, lines)) = self.slots.get(&slot).cloned() {
                    for (i, l) in lines.into_iter().enumerate() {
                        let l = if from == pfn {
                            l
                        } else {
                            Line {
                                owner: l.owner,
                                tamper: if l.tamper == Tamper::Exempt {
                                    Tamper::Exempt
                                } else {
                                    t
                                },
                            }
                        };
                        self.set(pfn * PAGE_SIZE as u64 + (i * LINE_SIZE) as u64, l);
                    }
                }
            }
            Op::DramFlip { pa, .. } => {
                let mut l = self.line(pa);
                if l.tamper != Tamper::Exempt {
                    l.tamper = self.physical_tamper();
                }
                self.set(pa, l);
            }
            _ => {}
        }
    }

    /// The reference: whether a successful leaf was legal from the pre-state (tdx.md §5.2–§5.4).
    fn legal(&self, pre: &Pre, op: &Op) -> Result<(), String> {
        let td_of = |tdr: u64| pre.tds.get(&(tdr / PAGE_SIZE as u64));
        let free = |page: u64, n: u64| {
            (0..n).all(|i| {
                pre.pamt
                    .get(page / PAGE_SIZE as u64 + i)
                    .is_some_and(|e| e.pt == PageType::PT_NDA)
            })
        };
        let fail = |why: &str| Err(format!("{} succeeded although {why}", op.name()));
        let in_states = |td: &Td, states: &[OpState]| states.contains(&td.op_state);
        let tracked_ok = |td: &Td, state: SeptState, hpa: u64| {
            if !td.op_state.tlb_tracking_required() {
                return Ok(());
            }
            if !state.is_blocked() {
                return Err("the entry was not blocked while the TD may run".to_string());
            }
            let bepoch = pre.pamt.get(hpa / PAGE_SIZE as u64).map_or(0, |e| e.bepoch);
            if !td.is_tlb_tracked(bepoch) {
                return Err("TLB tracking was not done".to_string());
            }
            Ok(())
        };
        use OpState::*;
        match *op {
            Op::MngCreate { tdr, hkid } => {
                if pre.hkids.contains(&(hkid as u16)) {
                    return fail("its HKID was in use");
                }
                if !free(tdr, 1) {
                    return fail("the TDR page was not free");
                }
            }
            Op::MngAddCx { page, .. } | Op::VpCreate { tdvpr: page, .. } => {
                if !free(page, 1) {
                    return fail("the page was not free");
                }
                if let Op::VpCreate { tdr, .. } = *op {
                    if td_of(tdr).is_some_and(|t| !in_states(t, &[OP_STATE_INITIALIZED])) {
                        return fail("the TD was not INITIALIZED");
                    }
                }
            }
            Op::PageAdd {
                tdr,
                gpa,
                page,
                source,
            } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                if !in_states(td, &[OP_STATE_INITIALIZED]) {
                    return fail("the TD was not INITIALIZED");
                }
                if td.sept.walk(gpa, 0).is_err() || td.sept.entry(0, gpa).state != SeptState::FREE {
                    return fail("the SEPT entry was not FREE");
                }
                if !free(page, 1) {
                    return fail("the page was not free");
                }
                if tme::keyid_kind(tme::split_pa(source).1) == Some(KeyIdKind::Private) {
                    return fail("its source used a private HKID");
                }
            }
            Op::MrExtend { tdr, .. } | Op::MrFinalize { tdr }
                if td_of(tdr).is_some_and(|t| !in_states(t, &[OP_STATE_INITIALIZED])) =>
            {
                return fail("the TD was not INITIALIZED");
            }
            Op::VpInit { tdvpr } => {
                let tdr = pre.vcpus.get(&(tdvpr / PAGE_SIZE as u64)).map(|v| v.tdr);
                if tdr
                    .and_then(|t| pre.tds.get(&t))
                    .is_some_and(|t| !in_states(t, &[OP_STATE_INITIALIZED]))
                {
                    return fail("the TD was not INITIALIZED");
                }
            }
            Op::SeptAdd {
                tdr,
                gpa,
                level,
                page,
            } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                let l = level as u8;
                if td.sept.walk(gpa, l).is_err() || td.sept.entry(l, gpa).state != SeptState::FREE {
                    return fail("the SEPT entry was not FREE");
                }
                if !free(page, 1) {
                    return fail("the page was not free");
                }
            }
            Op::PageAug {
                tdr,
                gpa,
                level,
                page,
            } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                if !in_states(td, &[OP_STATE_INITIALIZED, OP_STATE_RUNNABLE]) {
                    return fail("the TD op-state does not allow it");
                }
                let l = level as u8;
                if td.sept.walk(gpa, l).is_err()
                    || !matches!(
                        td.sept.entry(l, gpa).state,
                        SeptState::FREE | SeptState::REMOVED
                    )
                {
                    return fail("the SEPT entry was not FREE");
                }
                if !free(page, level_size(l) / PAGE_SIZE as u64) {
                    return fail("the page was not free");
                }
            }
            Op::RangeBlock { tdr, gpa, level } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                let s = td.sept.entry(level as u8, gpa).state;
                if !matches!(
                    s,
                    SeptState::NL_MAPPED
                        | SeptState::MAPPED
                        | SeptState::PENDING
                        | SeptState::BLOCKEDW
                        | SeptState::PENDING_BLOCKEDW
                ) {
                    return fail(&format!("the entry was {s:?}"));
                }
            }
            Op::RangeUnblock { tdr, gpa, level } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                let e = td.sept.entry(level as u8, gpa);
                if !e.state.is_blocked() {
                    return fail(&format!("the entry was {:?}", e.state));
                }
                if td.op_state.tlb_tracking_required() {
                    let bepoch = pre
                        .pamt
                        .get(e.hpa / PAGE_SIZE as u64)
                        .map_or(0, |x| x.bepoch);
                    if !td.is_tlb_tracked(bepoch) {
                        return fail("TLB tracking was not done");
                    }
                }
            }
            Op::PageRemove { tdr, gpa, level }
            | Op::PageDemote {
                tdr, gpa, level, ..
            }
            | Op::PagePromote { tdr, gpa, level }
            | Op::SeptRemove { tdr, gpa, level } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                let e = td.sept.entry(level as u8, gpa);
                let shape_ok = match op {
                    Op::PageRemove { .. } | Op::PageDemote { .. } => e.state.is_leaf(),
                    _ => e.state.is_non_leaf(),
                };
                if !shape_ok || td.sept.walk(gpa, level as u8).is_err() {
                    return fail(&format!("the entry was {:?}", e.state));
                }
                tracked_ok(td, e.state, e.hpa).or_else(|w| fail(&w))?;
                if let Op::PageDemote { page, .. } = *op {
                    if !free(page, 1) {
                        return fail("the new SEPT page was not free");
                    }
                }
            }
            Op::PageRelocate { tdr, gpa, page } => {
                let Some(td) = td_of(tdr) else {
                    return fail("there is no such TD");
                };
                let e = td.sept.entry(0, gpa);
                if !e.state.is_leaf() || td.sept.walk(gpa, 0).is_err() {
                    return fail(&format!("the entry was {:?}", e.state));
                }
                tracked_ok(td, e.state, e.hpa).or_else(|w| fail(&w))?;
                if !free(page, 1) {
                    return fail("the target page was not free");
                }
            }
            Op::PageReclaim { page } => {
                let e = pre
                    .pamt
                    .get(page / PAGE_SIZE as u64)
                    .copied()
                    .unwrap_or_default();
                let owner = pre.tds.get(&e.owner);
                if owner.is_some_and(|t| t.lifecycle != Lifecycle::TD_TEARDOWN) {
                    return fail("its TD was not in TEARDOWN");
                }
                if e.pt == PageType::PT_TDR && owner.is_some_and(|t| t.chldcnt != 0) {
                    return fail("the TD still had child pages");
                }
            }
            Op::VpEnter { tdvpr } | Op::VpEnterTimer { tdvpr, .. } => {
                let tdr = pre.vcpus.get(&(tdvpr / PAGE_SIZE as u64)).map(|v| v.tdr);
                if let Some(t) = tdr.and_then(|t| pre.tds.get(&t)) {
                    if t.fatal {
                        return fail("the TD was fatal");
                    }
                    if !in_states(t, &[OP_STATE_RUNNABLE]) {
                        return fail("the TD was not RUNNABLE");
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check_global(&self) -> Result<(), Violation> {
        let m = &self.m;
        let mut mapped: HashMap<u64, (u64, u64)> = HashMap::new();
        // A TD in TEARDOWN has no HKID: nothing can reach its SEPT any more, and the host reclaims
        // its pages in any order.
        for td in m
            .tds
            .values()
            .filter(|t| t.lifecycle != Lifecycle::TD_TEARDOWN)
        {
            for (&(level, gpa), e) in td.sept.iter() {
                if e.state.is_leaf() {
                    let first = e.hpa / PAGE_SIZE as u64;
                    for f in first..first + level_size(level) / PAGE_SIZE as u64 {
                        let p = m.pamt.get(f).copied().unwrap_or_default();
                        if p.pt != PageType::PT_REG || p.owner != td.tdr {
                            return Err(vio(
                                "ownership",
                                format!(
                                    "GPA 0x{gpa:x} of TD 0x{:x} maps frame 0x{:x}, which the PAMT records as {:?} of 0x{:x}",
                                    td.tdr * PAGE_SIZE as u64,
                                    f * PAGE_SIZE as u64,
                                    p.pt,
                                    p.owner * PAGE_SIZE as u64
                                ),
                            ));
                        }
                        if let Some((t2, g2)) = mapped.insert(f, (td.tdr, gpa)) {
                            return Err(vio(
                                "ownership",
                                format!(
                                    "frame 0x{:x} is mapped twice: GPA 0x{g2:x} of TD 0x{:x} and GPA 0x{gpa:x} of TD 0x{:x}",
                                    f * PAGE_SIZE as u64,
                                    t2 * PAGE_SIZE as u64,
                                    td.tdr * PAGE_SIZE as u64
                                ),
                            ));
                        }
                    }
                } else if e.state.is_non_leaf() {
                    let p = m
                        .pamt
                        .get(e.hpa / PAGE_SIZE as u64)
                        .copied()
                        .unwrap_or_default();
                    if p.pt != PageType::PT_EPT || p.owner != td.tdr {
                        return Err(vio(
                            "ownership",
                            format!(
                                "SEPT page 0x{:x} of TD 0x{:x} is {:?} in the PAMT",
                                e.hpa,
                                td.tdr * PAGE_SIZE as u64,
                                p.pt
                            ),
                        ));
                    }
                }
            }
        }
        for (pfn, e) in m.pamt.assigned() {
            if !m.tds.contains_key(&e.owner) {
                return Err(vio(
                    "ownership",
                    format!(
                        "frame 0x{:x} ({:?}) belongs to TD 0x{:x}, which no longer exists",
                        pfn * PAGE_SIZE as u64,
                        e.pt,
                        e.owner * PAGE_SIZE as u64
                    ),
                ));
            }
        }
        for v in m.vcpus.values() {
            if v.single_steps >= 8 {
                return Err(vio(
                    "single-step",
                    format!(
                        "vCPU 0x{:x}: {} timer exits in a row retired exactly one instruction",
                        v.tdvpr * PAGE_SIZE as u64,
                        v.single_steps
                    ),
                ));
            }
            if v.zero_progress_runs > u32::from(STEPPING_EPF_THRESHOLD) + 1 {
                return Err(vio(
                    "zero-step",
                    format!(
                        "vCPU 0x{:x}: the faulting instruction ran {} times without progress",
                        v.tdvpr * PAGE_SIZE as u64,
                        v.zero_progress_runs
                    ),
                ));
            }
            if !v.running {
                continue;
            }
            let td = m.tds.get(&v.tdr);
            for (&gpa, &hpa) in &v.tlb {
                let p = m
                    .pamt
                    .get(hpa / PAGE_SIZE as u64)
                    .copied()
                    .unwrap_or_default();
                let still = td
                    .and_then(|t| t.sept.leaf(gpa))
                    .is_some_and(|(l, e)| e.hpa + (gpa & (level_size(l) - 1)) == hpa);
                if p.pt != PageType::PT_REG || p.owner != v.tdr || !still {
                    return Err(vio(
                        "tlb",
                        format!(
                            "running vCPU 0x{:x} translates GPA 0x{gpa:x} to frame 0x{hpa:x}, which its TD no longer maps there ({:?})",
                            v.tdvpr * PAGE_SIZE as u64,
                            p.pt
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn op_tdvpr(op: &Op) -> u64 {
    match *op {
        Op::Load { tdvpr, .. }
        | Op::Store { tdvpr, .. }
        | Op::Accept { tdvpr, .. }
        | Op::RtmrExtend { tdvpr, .. }
        | Op::MrReport { tdvpr, .. }
        | Op::VmCall { tdvpr, .. }
        | Op::VpEnter { tdvpr }
        | Op::VpEnterTimer { tdvpr, .. }
        | Op::Ipi { tdvpr } => tdvpr,
        _ => 0,
    }
}

/// The setup of every case: both TDs built (TD A with `attr_a`, TD B with `attr_b`) and entered.
pub fn setup_ops(attr_a: u64, attr_b: u64) -> Vec<Op> {
    let mut ops = vec![Op::HostWrite {
        pa: SOURCE_PAGE,
        keyid: 0,
        byte: 0x5A,
        len: 4096,
    }];
    ops.extend(lab::build_ops(&TD_A, attr_a, &[POOL]));
    ops.extend(lab::build_ops(&TD_B, attr_b, &[POOL + 0x1000]));
    ops.push(Op::VpEnter { tdvpr: TD_A.tdvpr });
    ops.push(Op::VpEnter { tdvpr: TD_B.tdvpr });
    ops
}

/// One case from a choice source: mode, attributes, setup, then [`OPS_PER_CASE`] draws.
pub fn run_choices(c: &mut dyn Choices, rules: &RuleSet, machine_seed: u64) -> Option<Violation> {
    let mode = if c.pick(2) == 0 {
        IntegrityMode::Cryptographic
    } else {
        IntegrityMode::Logical
    };
    let attr = |c: &mut dyn Choices| {
        if c.pick(2) == 0 {
            ATTR_SEPT_VE_DISABLE
        } else {
            0
        }
    };
    let (a, b) = (attr(c), attr(c));
    let mut k = Checker::new(mode, rules.clone(), machine_seed);
    let cfg = Config {
        frames: 2048,
        integrity: mode,
        seed: machine_seed,
    };
    k.trace.push(super::trace::config_event(&cfg, rules));
    for op in setup_ops(a, b) {
        if let Err(v) = k.step(&op) {
            return Some(v);
        }
    }
    for _ in 0..OPS_PER_CASE {
        for op in next_ops(c) {
            if let Err(v) = k.step(&op) {
                return Some(v);
            }
        }
    }
    None
}

/// Case `case` of a run seeded `seed`.
pub fn run_case(seed: u64, case: u64, rules: &RuleSet) -> Option<Violation> {
    let mut rng = sim_core::rng::seeded(&format!("tdx-fuzz/{case}"), seed);
    run_choices(&mut rng, rules, seed ^ case)
}

/// Runs `cases` cases (stopping at the first violation); `progress` is called every 1000 cases.
pub fn run(cases: u64, seed: u64, rules: &RuleSet, mut progress: impl FnMut(u64)) -> FuzzReport {
    let mut violation = None;
    let mut done = 0;
    for case in 0..cases {
        done = case + 1;
        if let Some(v) = run_case(seed, case, rules) {
            violation = Some(v);
            break;
        }
        if done % 1000 == 0 {
            progress(done);
        }
    }
    FuzzReport {
        cases: done,
        seed,
        disabled_rules: rules.disabled().map(str::to_string).collect(),
        violation,
    }
}
