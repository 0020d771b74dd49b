//! The invariant fuzzer: random interleavings of hypervisor, guest and AMD-SP operations on a small world
//! (two guests, a handful of GPAs and SPAs so that operations collide), checked after every step against
//! a reference of what each guest believes:
//!
//! - **confidentiality**: no host-visible bytes of a guest-private page equal the plaintext the guest put
//!   there;
//! - **integrity**: a private guest read that does not fault returns the last value the guest wrote at
//!   that GPA (or the launch contents);
//! - **ownership**: every RMP entry is one of the page states of snp.md §4.2 (so it has exactly one
//!   owner), the RMP's own pages stay Firmware, and at most one Guest-Valid page backs a guest GPA;
//! - **isolation**: an access by VMPL1-3 succeeds only with the permissions VMPL0 (or a more privileged
//!   VMPL) legitimately granted it, and RMPADJUST never grants more than the caller holds;
//! - **policy**: no page of a guest with PAGE_SWAP_DISABLE is moved or swapped.
//!
//! The guests are well behaved (as Linux is): they touch privately only GPAs they validated, never
//! re-validate a GPA they hold, and use shared accesses only outside their validated set. The hypervisor
//! is arbitrary. [`FuzzOp`] is the compact, shrinkable form the proptest state machine generates; the
//! same runner serves `cvmsim snp fuzz`.

use std::collections::{BTreeSet, HashMap};

use rand_chacha::rand_core::RngCore;
use sha2::{Digest, Sha256};
use sim_core::rules::RuleSet;
use sim_core::scenario::{FuzzReport, TraceEvent, Violation};

use super::machine::{Machine, MachineConfig, OpError};
use super::op::{Op, OpOk};
use super::rmp::{perm, PageState};
use super::types::{policy, Asid, PageSize, Vmpl, PAGE_2M, PAGE_4K};

/// The guests of the fuzz world: ASID and policy. Guest 2 uses AES-256-XTS and PAGE_SWAP_DISABLE.
pub const GUESTS: [(Asid, u64); 2] = [
    (1, policy::MINIMAL),
    (
        2,
        policy::MINIMAL | policy::MEM_AES_256_XTS | policy::PAGE_SWAP_DISABLE,
    ),
];

/// The GPAs the fuzzer uses: two 2 MiB regions, three pages in the first, two in the second.
pub const GPAS: [u64; 5] = [0x0, 0x1000, 0x2000, 0x20_0000, 0x20_1000];

/// Covered data SPAs: four pages of the 2 MiB region at 2 MiB (the launch pages), three of the region
/// at 4 MiB (free at start).
pub const DATA_SPAS: [u64; 7] = [
    0x20_0000, 0x20_1000, 0x20_2000, 0x20_3000, 0x40_0000, 0x40_1000, 0x40_2000,
];

/// Number of SPA choices: the data SPAs, the RMP page holding their entries, and two uncovered pages.
pub const N_SPAS: u8 = 10;

/// Launch pages of each guest: (GPA, SPA).
const LAUNCH: [[(u64, u64); 2]; 2] = [
    [(0x0, 0x20_0000), (0x1000, 0x20_2000)],
    [(0x0, 0x20_1000), (0x1000, 0x20_3000)],
];

/// One compact fuzz operation; indices pick from the world's pools (taken modulo their size).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuzzOp {
    /// Hypervisor maps a guest GPA.
    Map { g: u8, gpa: u8, spa: u8, big: bool },
    /// Hypervisor page-state change to private: RMPUPDATE(assigned, guest, GPA) then NPT_MAP.
    Convert { g: u8, gpa: u8, spa: u8 },
    /// RMPUPDATE; owner 0 = hypervisor, else guest `owner-1`.
    RmpUpdate {
        spa: u8,
        owner: u8,
        gpa: u8,
        big: bool,
        immutable: bool,
    },
    /// PSMASH.
    Psmash { spa: u8 },
    /// Host writes 32 bytes.
    HostWrite { spa: u8, block: u8, seed: u16 },
    /// Host reads (and remembers) the first 64 bytes.
    HostRead { spa: u8 },
    /// Host writes back the 64 bytes it last read at that SPA (ciphertext replay).
    HostReplay { spa: u8 },
    /// Host writes a forged RMP entry (assigned to guest `g` at GPA, validated) where the RMP entry of
    /// SPA `spa` lives.
    ForgeRmp { spa: u8, g: u8, gpa: u8 },
    /// SNP_PAGE_RECLAIM.
    Reclaim { spa: u8 },
    /// SNP_PAGE_MOVE, then (on success) NPT_MAP of the page's GPA to the destination.
    Move { g: u8, src: u8, dst: u8 },
    /// SNP_PAGE_SWAP_OUT.
    SwapOut { g: u8, spa: u8 },
    /// SNP_PAGE_SWAP_IN of the guest's n-th swap blob, then (on success) NPT_MAP of its GPA.
    SwapIn { g: u8, slot: u8, dst: u8 },
    /// PVALIDATE (VMPL0).
    Validate {
        g: u8,
        gpa: u8,
        big: bool,
        validate: bool,
    },
    /// Guest write of 32 bytes.
    Write {
        g: u8,
        vmpl: u8,
        gpa: u8,
        block: u8,
        private: bool,
        seed: u16,
    },
    /// Guest read of 32 bytes.
    Read {
        g: u8,
        vmpl: u8,
        gpa: u8,
        block: u8,
        private: bool,
    },
    /// RMPADJUST.
    Adjust {
        g: u8,
        vmpl: u8,
        gpa: u8,
        target: u8,
        perms: u8,
    },
}

/// Draws one operation from a ChaCha stream (the CLI fuzzer's generator; the proptest test has its own).
pub fn random_op(rng: &mut impl RngCore) -> FuzzOp {
    let mut b = [0u8; 8];
    rng.fill_bytes(&mut b);
    let seed = u16::from_le_bytes([b[6], b[7]]);
    let bit = |i: u8| b[5] >> i & 1 == 1;
    let (x, y, z) = (b[1], b[2], b[3]);
    match b[0] % 100 {
        0..=3 => FuzzOp::Map {
            g: x,
            gpa: y,
            spa: z,
            big: b[4] % 4 == 0,
        },
        4..=9 => FuzzOp::Convert {
            g: x,
            gpa: y,
            spa: z,
        },
        10..=14 => FuzzOp::RmpUpdate {
            spa: x,
            owner: y,
            gpa: z,
            big: b[4] % 6 == 0,
            immutable: b[4] % 5 == 1,
        },
        15 => FuzzOp::Psmash { spa: x },
        16..=19 => FuzzOp::HostWrite {
            spa: x,
            block: y,
            seed,
        },
        20..=22 => FuzzOp::HostRead { spa: x },
        23..=25 => FuzzOp::HostReplay { spa: x },
        // Forging mostly targets the uncovered pages, whose "entries" lie past RMP_END.
        26..=28 => FuzzOp::ForgeRmp {
            spa: if x % 4 == 0 { x } else { 8 + x % 2 },
            g: y,
            gpa: z,
        },
        29..=30 => FuzzOp::Reclaim { spa: x },
        // Page commands mostly take guest pages from the first region and free pages of the second.
        // and mostly act for guest 1 (guest 2 forbids them, which a quarter of the attempts check).
        31..=33 => FuzzOp::Move {
            g: u8::from(x % 4 == 0),
            src: y % 4,
            dst: if z % 4 == 0 { z } else { 4 + z % 3 },
        },
        34..=37 => FuzzOp::SwapOut {
            g: u8::from(x % 4 == 0),
            spa: if y % 4 == 0 { y } else { y % 4 },
        },
        38..=42 => FuzzOp::SwapIn {
            g: u8::from(x % 4 == 0),
            slot: y,
            dst: if z % 4 == 0 { z } else { 4 + z % 3 },
        },
        43..=50 => FuzzOp::Validate {
            g: x,
            gpa: y,
            big: b[4] % 6 == 0,
            validate: b[4] % 5 != 0,
        },
        51..=70 => FuzzOp::Write {
            g: x,
            vmpl: if bit(0) && bit(3) { y % 4 } else { 0 },
            gpa: z,
            block: b[4],
            private: !bit(1) || !bit(2),
            seed,
        },
        71..=93 => FuzzOp::Read {
            g: x,
            vmpl: if bit(0) && bit(3) { y % 4 } else { 0 },
            gpa: z,
            block: b[4],
            private: !bit(1) || !bit(2),
        },
        _ => FuzzOp::Adjust {
            g: x,
            vmpl: y % 4,
            gpa: z,
            target: b[4] % 4,
            perms: b[5] & perm::ALL,
        },
    }
}

/// The 32 data bytes of a write with `seed`.
pub fn data_of(seed: u16) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"cvmsim/snp/memory/fuzz-data");
    h.update(seed.to_le_bytes());
    h.finalize().to_vec()
}

#[derive(Clone, Debug)]
struct Known {
    bytes: Vec<u8>,
    known: Vec<bool>,
}

impl Known {
    fn new() -> Self {
        Self {
            bytes: vec![0u8; 4096],
            known: vec![false; 4096],
        }
    }
}

#[derive(Clone, Debug)]
struct GuestRef {
    asid: Asid,
    swap_disabled: bool,
    validated: BTreeSet<u64>,
    content: HashMap<u64, Known>,
    perms: HashMap<u64, [u8; 4]>,
    slots: Vec<(usize, u64)>,
}

impl GuestRef {
    fn perms(&self, gpa: u64) -> [u8; 4] {
        self.perms
            .get(&gpa)
            .copied()
            .unwrap_or([perm::ALL, 0, 0, 0])
    }
}

/// One fuzz case: the machine, the reference, the trace so far.
pub struct Case {
    m: Machine,
    refs: Vec<GuestRef>,
    snapshots: HashMap<u64, Vec<u8>>,
    trace: Vec<TraceEvent>,
    spas: [u64; N_SPAS as usize],
}

type Checked = Result<(), Violation>;

impl Case {
    /// Boots the world and launches both guests (every step traced).
    pub fn new(rules: RuleSet, seed: u64) -> Result<Self, Violation> {
        let cfg = MachineConfig {
            seed,
            ..MachineConfig::default()
        };
        let m = Machine::new(cfg, rules).map_err(|e| Violation {
            invariant: "boot".into(),
            detail: e.to_string(),
            trace: vec![],
        })?;
        let (rmp_base, rmp_end) = m.rmp_range();
        let rmp_page = m.entry_addr(DATA_SPAS[0]).unwrap_or(rmp_base) & !(PAGE_4K - 1);
        let spas = [
            DATA_SPAS[0],
            DATA_SPAS[1],
            DATA_SPAS[2],
            DATA_SPAS[3],
            DATA_SPAS[4],
            DATA_SPAS[5],
            DATA_SPAS[6],
            rmp_page,
            rmp_end,
            rmp_end + PAGE_4K,
        ];
        let boot = TraceEvent {
            actor: "platform".into(),
            op: super::trace::platform_op(m.config()),
            result: format!("ok platform_info={:#x}", m.platform_info()),
        };
        let mut c = Case {
            m,
            refs: Vec::new(),
            snapshots: HashMap::new(),
            trace: vec![boot],
            spas,
        };
        let mut rng = sim_core::rng::seeded("snp/memory/fuzz-launch", seed);
        for (i, (asid, pol)) in GUESTS.iter().enumerate() {
            let asid = *asid;
            let mut content = HashMap::new();
            let mut validated = BTreeSet::new();
            let r = c.run(Op::LaunchStart { asid, policy: *pol });
            if let Err(e) = r {
                return Err(c.violation("boot", format!("SNP_LAUNCH_START of guest {asid}: {e}")));
            }
            for (gpa, spa) in LAUNCH[i] {
                let mut data = vec![0u8; 64];
                rng.fill_bytes(&mut data);
                let ops = [
                    Op::HostWrite {
                        spa,
                        data: data.clone(),
                    },
                    Op::RmpUpdate {
                        spa,
                        gpa,
                        assigned: true,
                        size: PageSize::Size4K,
                        immutable: true,
                        asid,
                    },
                    Op::LaunchUpdate { asid, spa },
                    Op::NptMap {
                        asid,
                        gpa,
                        spa,
                        size: PageSize::Size4K,
                    },
                ];
                for op in ops {
                    if let Err(e) = c.run(op) {
                        return Err(c.violation("boot", format!("launch of guest {asid}: {e}")));
                    }
                }
                let mut k = Known::new();
                k.bytes[..64].copy_from_slice(&data);
                k.known.fill(true);
                content.insert(gpa, k);
                validated.insert(gpa);
            }
            c.refs.push(GuestRef {
                asid,
                swap_disabled: pol & policy::PAGE_SWAP_DISABLE != 0,
                validated,
                content,
                perms: HashMap::new(),
                slots: Vec::new(),
            });
        }
        c.check_state()?;
        Ok(c)
    }

    /// The trace so far.
    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.m
    }

    fn violation(&self, invariant: &str, detail: String) -> Violation {
        Violation {
            invariant: invariant.into(),
            detail,
            trace: self.trace.clone(),
        }
    }

    fn spa(&self, i: u8) -> u64 {
        self.spas[usize::from(i % N_SPAS)]
    }

    fn run(&mut self, op: Op) -> Result<OpOk, OpError> {
        let (r, ev) = op.run(&mut self.m);
        self.trace.push(ev);
        r
    }

    /// Applies one fuzz operation and checks the invariants.
    pub fn step(&mut self, fop: &FuzzOp) -> Checked {
        self.apply(fop)?;
        self.check_state()
    }

    fn apply(&mut self, fop: &FuzzOp) -> Checked {
        let gi = |g: u8| usize::from(g) % GUESTS.len();
        let gpa_of = |i: u8| GPAS[usize::from(i) % GPAS.len()];
        let align = |x: u64, big: bool| if big { x & !(PAGE_2M - 1) } else { x };
        let size = |big: bool| {
            if big {
                PageSize::Size2M
            } else {
                PageSize::Size4K
            }
        };
        match *fop {
            FuzzOp::Map { g, gpa, spa, big } => {
                let op = Op::NptMap {
                    asid: self.refs[gi(g)].asid,
                    gpa: align(gpa_of(gpa), big),
                    spa: align(self.spa(spa), big),
                    size: size(big),
                };
                let _ = self.run(op);
            }
            FuzzOp::Convert { g, gpa, spa } => {
                let (asid, gpa, spa) = (self.refs[gi(g)].asid, gpa_of(gpa), self.spa(spa));
                let _ = self.run(Op::RmpUpdate {
                    spa,
                    gpa,
                    assigned: true,
                    size: PageSize::Size4K,
                    immutable: false,
                    asid,
                });
                let _ = self.run(Op::NptMap {
                    asid,
                    gpa,
                    spa,
                    size: PageSize::Size4K,
                });
            }
            FuzzOp::RmpUpdate {
                spa,
                owner,
                gpa,
                big,
                immutable,
            } => {
                let o = usize::from(owner) % (GUESTS.len() + 1);
                let asid = if o == 0 { 0 } else { self.refs[o - 1].asid };
                let op = Op::RmpUpdate {
                    spa: align(self.spa(spa), big),
                    gpa: if o == 0 { 0 } else { align(gpa_of(gpa), big) },
                    assigned: o != 0,
                    size: size(big),
                    immutable: o != 0 && immutable,
                    asid,
                };
                let _ = self.run(op);
            }
            FuzzOp::Psmash { spa } => {
                let _ = self.run(Op::Psmash {
                    spa: self.spa(spa) & !(PAGE_2M - 1),
                });
            }
            FuzzOp::HostWrite { spa, block, seed } => {
                let spa = self.spa(spa) + u64::from(block % 4) * 16;
                let _ = self.run(Op::HostWrite {
                    spa,
                    data: data_of(seed),
                });
            }
            FuzzOp::HostRead { spa } => {
                let spa = self.spa(spa);
                if let Ok(OpOk::Data(d)) = self.run(Op::HostRead { spa, len: 64 }) {
                    self.snapshots.insert(spa, d);
                }
            }
            FuzzOp::HostReplay { spa } => {
                let spa = self.spa(spa);
                if let Some(d) = self.snapshots.get(&spa).cloned() {
                    let _ = self.run(Op::HostWrite { spa, data: d });
                }
            }
            FuzzOp::ForgeRmp { spa, g, gpa } => {
                let r = &self.refs[gi(g)];
                let mut e = super::rmp::RmpEntry::default();
                e.set_assigned(true);
                e.set_asid(r.asid);
                e.set_gpa(gpa_of(gpa));
                e.set_validated(true);
                e.set_perms(0, perm::ALL);
                if let Some(addr) = self.m.entry_addr(self.spa(spa)) {
                    let mut data = e.q0.get().to_le_bytes().to_vec();
                    data.extend_from_slice(&e.q1.get().to_le_bytes());
                    let _ = self.run(Op::HostWrite { spa: addr, data });
                }
            }
            FuzzOp::Reclaim { spa } => {
                let _ = self.run(Op::PageReclaim { spa: self.spa(spa) });
            }
            FuzzOp::Move { g, src, dst } => {
                let i = gi(g);
                let (asid, src, dst) = (self.refs[i].asid, self.spa(src), self.spa(dst));
                let gpa = self.m.rmp_entry(src).gpa();
                let ok = self.run(Op::PageMove { asid, src, dst }).is_ok();
                self.check_policy(i, ok, "SNP_PAGE_MOVE")?;
                if ok {
                    let _ = self.run(Op::NptMap {
                        asid,
                        gpa,
                        spa: dst,
                        size: PageSize::Size4K,
                    });
                }
            }
            FuzzOp::SwapOut { g, spa } => {
                let i = gi(g);
                let (asid, spa) = (self.refs[i].asid, self.spa(spa));
                let gpa = self.m.rmp_entry(spa).gpa();
                let r = self.run(Op::SwapOut { asid, spa });
                if let Ok(OpOk::Slot(s)) = r {
                    self.refs[i].slots.push((s, gpa));
                }
                self.check_policy(i, r.is_ok(), "SNP_PAGE_SWAP_OUT")?;
            }
            FuzzOp::SwapIn { g, slot, dst } => {
                let i = gi(g);
                let slots = &self.refs[i].slots;
                if slots.is_empty() {
                    return Ok(());
                }
                let (s, gpa) = slots[usize::from(slot) % slots.len()];
                let (asid, dst) = (self.refs[i].asid, self.spa(dst));
                let ok = self.run(Op::SwapIn { asid, slot: s, dst }).is_ok();
                self.check_policy(i, ok, "SNP_PAGE_SWAP_IN")?;
                if ok {
                    let _ = self.run(Op::NptMap {
                        asid,
                        gpa,
                        spa: dst,
                        size: PageSize::Size4K,
                    });
                }
            }
            FuzzOp::Validate {
                g,
                gpa,
                big,
                validate,
            } => self.validate(gi(g), align(gpa_of(gpa), big), big, validate),
            FuzzOp::Write {
                g,
                vmpl,
                gpa,
                block,
                private,
                seed,
            } => self.write(gi(g), vmpl % 4, gpa_of(gpa), block % 4, private, seed)?,
            FuzzOp::Read {
                g,
                vmpl,
                gpa,
                block,
                private,
            } => self.read(gi(g), vmpl % 4, gpa_of(gpa), block % 4, private)?,
            FuzzOp::Adjust {
                g,
                vmpl,
                gpa,
                target,
                perms,
            } => self.adjust(gi(g), vmpl % 4, gpa_of(gpa), target % 4, perms & perm::ALL)?,
        }
        Ok(())
    }

    fn check_policy(&self, i: usize, ok: bool, cmd: &str) -> Checked {
        if ok && self.refs[i].swap_disabled {
            return Err(self.violation(
                "policy",
                format!(
                    "{cmd} succeeded for guest {} whose policy sets PAGE_SWAP_DISABLE",
                    self.refs[i].asid
                ),
            ));
        }
        Ok(())
    }

    fn validate(&mut self, i: usize, gpa: u64, big: bool, validate: bool) {
        let n = if big { 512 } else { 1 };
        let pages: Vec<u64> = (0..n).map(|k| gpa + k * PAGE_4K).collect();
        let r = &self.refs[i];
        let held = pages.iter().any(|p| r.validated.contains(p));
        // Well-behaved: validate only GPAs it does not hold; rescind only 4K GPAs it holds.
        if (validate && held) || (!validate && (big || !held)) {
            return;
        }
        let res = self.run(Op::Pvalidate {
            asid: r.asid,
            vmpl: 0,
            gpa,
            size: if big {
                PageSize::Size2M
            } else {
                PageSize::Size4K
            },
            validate,
        });
        let r = &mut self.refs[i];
        match (res, validate) {
            (Ok(OpOk::Cf(false)), true) => {
                for p in pages {
                    r.validated.insert(p);
                    r.content.remove(&p);
                }
            }
            // CF=1 on rescind means the page was not validated: the guest (like Linux, which
            // terminates) keeps treating the GPA as its own and never re-validates it.
            (Ok(OpOk::Cf(false)), false) => {
                for p in pages {
                    r.validated.remove(&p);
                    r.content.remove(&p);
                }
            }
            _ => {}
        }
    }

    fn isolation(&self, i: usize, vmpl: Vmpl, gpa: u64, need: u8, what: &str) -> Checked {
        let p = self.refs[i].perms(gpa)[usize::from(vmpl)];
        if p & need != need {
            return Err(self.violation(
                "isolation",
                format!(
                    "guest {} VMPL{vmpl} {what} at GPA {gpa:#x} succeeded, but the permissions granted to VMPL{vmpl} are {p:#x}",
                    self.refs[i].asid
                ),
            ));
        }
        Ok(())
    }

    fn write(
        &mut self,
        i: usize,
        vmpl: Vmpl,
        gpa: u64,
        block: u8,
        private: bool,
        seed: u16,
    ) -> Checked {
        let held = self.refs[i].validated.contains(&gpa);
        if held != private {
            return Ok(());
        }
        let data = data_of(seed);
        let off = usize::from(block) * 16;
        let res = self.run(Op::Write {
            asid: self.refs[i].asid,
            vmpl,
            gpa: gpa + off as u64,
            private,
            data: data.clone(),
        });
        if res.is_ok() && private {
            self.isolation(i, vmpl, gpa, perm::READ | perm::WRITE, "write")?;
            let k = self.refs[i].content.entry(gpa).or_insert_with(Known::new);
            k.bytes[off..off + 32].copy_from_slice(&data);
            k.known[off..off + 32].fill(true);
        }
        Ok(())
    }

    fn read(&mut self, i: usize, vmpl: Vmpl, gpa: u64, block: u8, private: bool) -> Checked {
        let held = self.refs[i].validated.contains(&gpa);
        if held != private {
            return Ok(());
        }
        let off = usize::from(block) * 16;
        let res = self.run(Op::Read {
            asid: self.refs[i].asid,
            vmpl,
            gpa: gpa + off as u64,
            private,
            len: 32,
        });
        let (Ok(OpOk::Data(d)), true) = (res, private) else {
            return Ok(());
        };
        self.isolation(i, vmpl, gpa, perm::READ, "read")?;
        if let Some(k) = self.refs[i].content.get(&gpa) {
            for j in 0..32 {
                if k.known[off + j] && k.bytes[off + j] != d[j] {
                    return Err(self.violation(
                        "integrity",
                        format!(
                            "guest {} read {} at GPA {:#x}, but it last wrote {}",
                            self.refs[i].asid,
                            hex::encode(&d),
                            gpa + off as u64,
                            hex::encode(&k.bytes[off..off + 32])
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn adjust(&mut self, i: usize, vmpl: Vmpl, gpa: u64, target: Vmpl, mask: u8) -> Checked {
        if !self.refs[i].validated.contains(&gpa) {
            return Ok(());
        }
        let res = self.run(Op::RmpAdjust {
            asid: self.refs[i].asid,
            vmpl,
            gpa,
            size: PageSize::Size4K,
            target,
            perms: mask,
        });
        if res.is_ok() {
            let mut p = self.refs[i].perms(gpa);
            let caller = p[usize::from(vmpl)];
            if target <= vmpl || mask & !caller != 0 {
                return Err(self.violation(
                    "isolation",
                    format!(
                        "RMPADJUST by guest {} VMPL{vmpl} set VMPL{target} permissions {mask:#x} at GPA {gpa:#x}, holding only {caller:#x}",
                        self.refs[i].asid
                    ),
                ));
            }
            p[usize::from(target)] = mask;
            self.refs[i].perms.insert(gpa, p);
        }
        Ok(())
    }

    /// Confidentiality and ownership over every SPA of the world.
    fn check_state(&self) -> Checked {
        let mut backing: HashMap<(Asid, u64), u64> = HashMap::new();
        for &spa in &self.spas {
            if self.m.covered(spa) {
                let raw = self.m.rmp_entry(spa);
                if raw.state().is_none() {
                    return Err(self.violation(
                        "ownership",
                        format!(
                            "the RMP entry of SPA {spa:#x} is no page state (assigned={} validated={} asid={} immutable={}): no single owner",
                            u8::from(raw.assigned()),
                            u8::from(raw.validated()),
                            raw.asid(),
                            u8::from(raw.immutable())
                        ),
                    ));
                }
                if self.m.is_rmp_page(spa) && raw.state() != Some(PageState::Firmware) {
                    return Err(self.violation(
                        "ownership",
                        format!("RMP page {spa:#x} is no longer firmware-owned"),
                    ));
                }
            }
            if !self.m.covered(spa) {
                continue;
            }
            let (addr, e) = self.m.effective_entry(spa);
            if e.state() != Some(PageState::GuestValid) {
                continue;
            }
            let gpa = e.gpa() + (spa - addr);
            if let Some(prev) = backing.insert((e.asid(), gpa), spa) {
                return Err(self.violation(
                    "ownership",
                    format!(
                        "guest {} GPA {gpa:#x} is backed by two Guest-Valid pages, SPA {prev:#x} and {spa:#x}",
                        e.asid()
                    ),
                ));
            }
            let Some(r) = self.refs.iter().find(|r| r.asid == e.asid()) else {
                continue;
            };
            let Some(k) = r.content.get(&gpa) else {
                continue;
            };
            let mut dram = [0u8; 4096];
            self.m.dram(spa, &mut dram);
            for b in 0..256 {
                let s = b * 16..b * 16 + 16;
                if k.known[s.clone()].iter().all(|x| *x)
                    && k.bytes[s.clone()].iter().any(|x| *x != 0)
                    && k.bytes[s.clone()] == dram[s.clone()]
                {
                    return Err(self.violation(
                        "confidentiality",
                        format!(
                            "the host sees guest {} plaintext {} of GPA {:#x} at SPA {:#x}",
                            r.asid,
                            hex::encode(&dram[s.clone()]),
                            gpa + s.start as u64,
                            spa + s.start as u64
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Runs one case: boots the world with `seed`, applies `ops`, checks after each step.
pub fn run_case(rules: &RuleSet, seed: u64, ops: &[FuzzOp]) -> Result<Vec<TraceEvent>, Violation> {
    let mut c = Case::new(rules.clone(), seed)?;
    for op in ops {
        c.step(op)?;
    }
    Ok(c.trace)
}

/// Operations per case of the CLI fuzzer.
pub const OPS_PER_CASE: usize = 40;

/// The operations of case `i` of a run with `seed`.
pub fn case_ops(seed: u64, i: u64) -> Vec<FuzzOp> {
    let mut rng = sim_core::rng::seeded(&format!("snp/memory/fuzz/case{i}"), seed);
    (0..OPS_PER_CASE).map(|_| random_op(&mut rng)).collect()
}

/// Runs `cases` cases; stops at the first violation. `progress` is called after each case.
pub fn fuzz(cases: u64, seed: u64, rules: &RuleSet, mut progress: impl FnMut(u64)) -> FuzzReport {
    let mut violation = None;
    let mut ran = 0;
    for i in 0..cases {
        ran = i + 1;
        if let Err(v) = run_case(rules, seed, &case_ops(seed, i)) {
            violation = Some(v);
            break;
        }
        progress(ran);
    }
    FuzzReport {
        cases: ran,
        seed,
        disabled_rules: rules.disabled().map(String::from).collect(),
        violation,
    }
}
