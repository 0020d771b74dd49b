//! The platform: physical memory with its RMP, the hypervisor (which owns the nested page tables), the
//! guests at VMPL0-3 and the AMD-SP, with the access checks of APM Table 15-39 in table order
//! (snp.md §4.3) and the instruction and firmware-command semantics of snp.md §3.1, §4.4.
//!
//! Every check consults [`RuleSet`]; a switched-off rule lets the access through, to show what the rule is
//! for. Faults and return codes are values, never panics.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};

use hmac::{Hmac, Mac};
use rand_chacha::rand_core::RngCore;
use sha2::Sha256;
use sim_core::rules::RuleSet;

use super::engine::{Engine, Page};
use super::phys::{BadRam, PfnMap, PhysMem};
use super::rmp::{perm, PageState, RmpEntry, RmpStatus, RmpUpdateInput, RMP_BOOKKEEPING};
use super::rules as r;
use super::types::{
    platform_info, policy, Asid, PageSize, Product, Vmpl, MAX_ASID, PAGE_2M, PAGE_4K,
};

/// `#PF` error-code and `#VMEXIT(NPF)` EXITINFO1 bits (LNX `PFERR_*`, snp.md §4.3).
pub mod pferr {
    /// Bit 0: the translation was present.
    pub const PRESENT: u64 = 1 << 0;
    /// Bit 1: write access.
    pub const WRITE: u64 = 1 << 1;
    /// Bit 2: user access (nested-table accesses are user accesses).
    pub const USER: u64 = 1 << 2;
    /// Bit 4: instruction fetch.
    pub const FETCH: u64 = 1 << 4;
    /// Bit 31: RMP violation.
    pub const RMP: u64 = 1 << 31;
    /// Bit 32: fault on the final GPA translation.
    pub const GUEST_FINAL: u64 = 1 << 32;
    /// Bit 34: the access was encrypted (effective C-bit 1).
    pub const GUEST_ENC: u64 = 1 << 34;
    /// Bit 35: PVALIDATE / RMPADJUST size mismatch.
    pub const GUEST_SIZEM: u64 = 1 << 35;
    /// Bit 36: VMPL permission violation.
    pub const GUEST_VMPL: u64 = 1 << 36;
}

/// `#VC` error code of a private access to an unvalidated page (snp.md §4.3).
pub const VC_PAGE_NOT_VALIDATED: u64 = 0x404;

/// An architectural fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Host `#PF` with its error code.
    Pf {
        /// Error code (bit 31 = RMP).
        err: u64,
    },
    /// `#VMEXIT(NPF)` with EXITINFO1 and the faulting GPA (EXITINFO2).
    Npf {
        /// EXITINFO1.
        exitinfo1: u64,
        /// EXITINFO2, the GPA.
        gpa: u64,
    },
    /// `#VC` with its error code.
    Vc {
        /// Error code.
        code: u64,
    },
    /// `#GP(0)`.
    Gp,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Pf { err } => write!(f, "#PF err={err:#x}"),
            Fault::Npf { exitinfo1, gpa } => {
                write!(f, "#VMEXIT(NPF) exitinfo1={exitinfo1:#x} gpa={gpa:#x}")
            }
            Fault::Vc { code } => write!(f, "#VC {code:#x}"),
            Fault::Gp => f.write_str("#GP(0)"),
        }
    }
}

/// AMD-SP command status codes (SEV-SNP ABI 56860; LNX `psp-sev.h` `SEV_RET_*`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpStatus {
    /// 0x02.
    INVALID_GUEST_STATE,
    /// 0x07.
    POLICY_FAILURE,
    /// 0x09.
    INVALID_ADDRESS,
    /// 0x10.
    INVALID_GUEST,
    /// 0x13.
    HWERROR_PLATFORM,
    /// 0x16.
    INVALID_PARAM,
    /// 0x19.
    INVALID_PAGE_SIZE,
    /// 0x1A.
    INVALID_PAGE_STATE,
    /// 0x1B.
    INVALID_MDATA_ENTRY,
    /// 0x1C.
    INVALID_PAGE_OWNER,
}

impl SpStatus {
    /// The status code.
    pub fn code(self) -> u32 {
        match self {
            SpStatus::INVALID_GUEST_STATE => 0x02,
            SpStatus::POLICY_FAILURE => 0x07,
            SpStatus::INVALID_ADDRESS => 0x09,
            SpStatus::INVALID_GUEST => 0x10,
            SpStatus::HWERROR_PLATFORM => 0x13,
            SpStatus::INVALID_PARAM => 0x16,
            SpStatus::INVALID_PAGE_SIZE => 0x19,
            SpStatus::INVALID_PAGE_STATE => 0x1A,
            SpStatus::INVALID_MDATA_ENTRY => 0x1B,
            SpStatus::INVALID_PAGE_OWNER => 0x1C,
        }
    }
    /// The status name.
    pub fn name(self) -> &'static str {
        match self {
            SpStatus::INVALID_GUEST_STATE => "INVALID_GUEST_STATE",
            SpStatus::POLICY_FAILURE => "POLICY_FAILURE",
            SpStatus::INVALID_ADDRESS => "INVALID_ADDRESS",
            SpStatus::INVALID_GUEST => "INVALID_GUEST",
            SpStatus::HWERROR_PLATFORM => "HWERROR_PLATFORM",
            SpStatus::INVALID_PARAM => "INVALID_PARAM",
            SpStatus::INVALID_PAGE_SIZE => "INVALID_PAGE_SIZE",
            SpStatus::INVALID_PAGE_STATE => "INVALID_PAGE_STATE",
            SpStatus::INVALID_MDATA_ENTRY => "INVALID_MDATA_ENTRY",
            SpStatus::INVALID_PAGE_OWNER => "INVALID_PAGE_OWNER",
        }
    }
}

/// Why an operation did not complete: a fault, an instruction return code or an SP status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpError {
    /// An architectural fault.
    Fault(Fault),
    /// An RMP instruction's non-zero return code.
    Rmp(RmpStatus),
    /// An AMD-SP command status.
    Sp(SpStatus),
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Fault(x) => x.fmt(f),
            OpError::Rmp(s) => f.write_str(s.name()),
            OpError::Sp(s) => f.write_str(s.name()),
        }
    }
}

impl From<Fault> for OpError {
    fn from(f: Fault) -> Self {
        OpError::Fault(f)
    }
}

/// How a guest touches memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Data read.
    Read,
    /// Data write.
    Write,
    /// Instruction fetch (always private).
    Fetch,
}

/// Largest `mem_top` the model accepts (1 TiB: the RMP's own 1 Mi pages are marked at SNP_INIT).
pub const MAX_MEM_TOP: u64 = 1 << 40;

/// Why SNP_INIT failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The platform's boot-time alias check found a physical alias (rule `SNP-PLATFORM-ALIAS-CHECK`).
    #[error(
        "SNP_INIT: HWERROR_PLATFORM: the boot-time alias check found a physical address alias"
    )]
    AliasDetected,
    /// `mem_top` is below 4 MiB or above [`MAX_MEM_TOP`].
    #[error("SNP_INIT: INVALID_CONFIG: mem_top {0:#x} outside 4 MiB..=1 TiB")]
    MemTop(u64),
}

/// Platform configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineConfig {
    /// Processor generation.
    pub product: Product,
    /// Seed of the platform's keys.
    pub seed: u64,
    /// Top of RMP-covered memory (the RMP sits just below it); addresses above are not covered.
    pub mem_top: u64,
    /// A BadRAM aliasing DIMM, if fitted.
    pub badram: Option<BadRam>,
    /// Whether the firmware ran the boot-time alias check (PLATFORM_INFO bit 5).
    pub alias_check: bool,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            product: Product::Genoa,
            seed: 0,
            mem_top: 0x4000_0000,
            badram: None,
            alias_check: true,
        }
    }
}

#[derive(Clone, Debug)]
struct Guest {
    policy: u64,
    /// The launch digest, extended by every SNP_LAUNCH_UPDATE with the attestation model's PAGE_INFO.
    ld: [u8; 48],
    engine: Engine,
    npt4k: PfnMap<u64>,
    npt2m: PfnMap<u64>,
}

#[derive(Clone, Debug)]
struct SwapBlob {
    asid: Asid,
    gpa: u64,
    validated: bool,
    perms: u64,
    nonce: u64,
    data: Box<Page>,
    mac: [u8; 32],
}

/// The simulated SNP platform.
#[derive(Clone, Debug)]
pub struct Machine {
    cfg: MachineConfig,
    rules: RuleSet,
    mem: PhysMem,
    rmp_base: u64,
    guests: BTreeMap<Asid, Guest>,
    blobs: Vec<SwapBlob>,
    outstanding: HashSet<u64>,
    next_nonce: u64,
    swap_engine: Engine,
    swap_mac_key: [u8; 32],
    blocked: Cell<Option<&'static str>>,
}

fn aligned(x: u64, size: u64) -> bool {
    x % size == 0
}

impl Machine {
    /// Boots a platform: places the RMP just below `mem_top` and marks its own pages Firmware (SNP_INIT).
    /// A platform that runs the alias check and finds an alias refuses SNP (rule
    /// `SNP-PLATFORM-ALIAS-CHECK`).
    pub fn new(cfg: MachineConfig, rules: RuleSet) -> Result<Self, InitError> {
        if cfg.mem_top < 2 * PAGE_2M || cfg.mem_top > MAX_MEM_TOP {
            return Err(InitError::MemTop(cfg.mem_top));
        }
        if cfg.badram.is_some() && cfg.alias_check && rules.on(r::ALIAS_CHECK) {
            return Err(InitError::AliasDetected);
        }
        let mem_top = cfg.mem_top & !(PAGE_2M - 1);
        let rmp_size = RMP_BOOKKEEPING + mem_top / PAGE_4K * 16;
        let rmp_base = (mem_top - rmp_size.min(mem_top)) & !0x1FFF;
        let mut rng = sim_core::rng::seeded("snp/memory/sp-swap-key", cfg.seed);
        let (mut k1, mut k2, mut mk) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        rng.fill_bytes(&mut k1);
        rng.fill_bytes(&mut k2);
        rng.fill_bytes(&mut mk);
        let mut m = Self {
            cfg: MachineConfig { mem_top, ..cfg },
            rules,
            mem: PhysMem::new(cfg.badram),
            rmp_base,
            guests: BTreeMap::new(),
            blobs: Vec::new(),
            outstanding: HashSet::new(),
            next_nonce: 1,
            swap_engine: Engine::xts256(&k1, &k2),
            swap_mac_key: mk,
            blocked: Cell::new(None),
        };
        let mut fw = RmpEntry::default();
        fw.set_assigned(true);
        fw.set_immutable(true);
        let mut spa = rmp_base;
        while spa < mem_top {
            m.write_entry(spa, fw);
            spa += PAGE_4K;
        }
        Ok(m)
    }

    /// The platform configuration.
    pub fn config(&self) -> &MachineConfig {
        &self.cfg
    }

    /// The rule whose check refused the last refused operation, cleared by reading it.
    pub fn take_blocking_rule(&self) -> Option<&'static str> {
        self.blocked.take()
    }

    /// The rules in force.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// PLATFORM_INFO as the firmware reports it (only the bits the memory model decides).
    pub fn platform_info(&self) -> u64 {
        if self.cfg.alias_check {
            platform_info::ALIAS_CHECK_COMPLETE
        } else {
            0
        }
    }

    /// `RMP_BASE`..`RMP_END`.
    pub fn rmp_range(&self) -> (u64, u64) {
        (self.rmp_base, self.cfg.mem_top)
    }

    /// Whether `spa` is one of the RMP's own pages.
    pub fn is_rmp_page(&self, spa: u64) -> bool {
        spa >= self.rmp_base && spa < self.cfg.mem_top
    }

    /// Whether the RMP covers `spa`.
    pub fn covered(&self, spa: u64) -> bool {
        spa < self.cfg.mem_top
    }

    /// System physical address of the RMP entry of `spa`. For an uncovered `spa` this lies past
    /// `RMP_END`, in memory the RMP does not protect (what the Covered check is for).
    pub fn entry_addr(&self, spa: u64) -> Option<u64> {
        (spa / PAGE_4K)
            .checked_mul(16)?
            .checked_add(self.rmp_base + RMP_BOOKKEEPING)
    }

    /// The RMP entry stored for the 4 KiB page at `spa`.
    pub fn rmp_entry(&self, spa: u64) -> RmpEntry {
        let mut b = [0u8; 16];
        if let Some(a) = self.entry_addr(spa) {
            self.mem.read(a, &mut b);
        }
        RmpEntry {
            q0: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]).into(),
            q1: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]).into(),
        }
    }

    fn write_entry(&mut self, spa: u64, e: RmpEntry) {
        if let Some(a) = self.entry_addr(spa) {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&e.q0.get().to_le_bytes());
            b[8..].copy_from_slice(&e.q1.get().to_le_bytes());
            self.mem.write(a, &b);
        }
    }

    /// The entry that governs `spa`: the 2 MiB entry when the 2 MiB-aligned entry is an assigned 2 MiB
    /// page, else the page's own 4 KiB entry. Returns the entry's address too.
    pub fn effective_entry(&self, spa: u64) -> (u64, RmpEntry) {
        let base = spa & !(PAGE_2M - 1);
        let eb = self.rmp_entry(base);
        if eb.assigned() && eb.page_size() == PageSize::Size2M {
            (base, eb)
        } else {
            (spa & !(PAGE_4K - 1), self.rmp_entry(spa))
        }
    }

    /// Raw DRAM bytes at `spa` as the host sees them (ciphertext for private pages).
    pub fn dram(&self, spa: u64, out: &mut [u8]) {
        self.mem.read(spa, out)
    }

    /// Bytes of host memory the model spends on simulated memory (pages and their index; the RMP is part
    /// of simulated memory).
    pub fn bytes_used(&self) -> usize {
        self.mem.bytes_used()
    }

    /// Number of 4 KiB DRAM frames touched (data pages and RMP pages).
    pub fn frames(&self) -> usize {
        self.mem.frames()
    }

    /// The ASIDs of launched guests.
    pub fn guests(&self) -> impl Iterator<Item = (Asid, u64)> + '_ {
        self.guests.iter().map(|(a, g)| (*a, g.policy))
    }

    /// The cipher name of a guest.
    pub fn guest_cipher(&self, asid: Asid) -> Option<&'static str> {
        self.guests.get(&asid).map(|g| g.engine.name())
    }

    /// The GPA → SPA translation of a guest's NPT, with the mapping's size.
    pub fn translate(&self, asid: Asid, gpa: u64) -> Option<(u64, PageSize)> {
        let g = self.guests.get(&asid)?;
        if let Some(s) = g.npt2m.get(&(gpa & !(PAGE_2M - 1))) {
            return Some((s + (gpa & (PAGE_2M - 1)), PageSize::Size2M));
        }
        g.npt4k
            .get(&(gpa & !(PAGE_4K - 1)))
            .map(|s| (s + (gpa & (PAGE_4K - 1)), PageSize::Size4K))
    }

    // ----------------------------------------------------------------------------------------------
    // Hypervisor

    /// Hypervisor: maps `gpa` to `spa` in the guest's nested page table (4K or 2M leaf). A new 2M leaf
    /// replaces the 4K leaves below it; a 4K leaf replaces a 2M leaf above it.
    pub fn npt_map(
        &mut self,
        asid: Asid,
        gpa: u64,
        spa: u64,
        size: PageSize,
    ) -> Result<(), OpError> {
        let sz = size.bytes();
        if !aligned(gpa, sz) || !aligned(spa, sz) {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let g = self
            .guests
            .get_mut(&asid)
            .ok_or(OpError::Sp(SpStatus::INVALID_GUEST))?;
        match size {
            PageSize::Size2M => {
                g.npt4k.retain(|k, _| k & !(PAGE_2M - 1) != gpa);
                g.npt2m.insert(gpa, spa);
            }
            PageSize::Size4K => {
                g.npt2m.remove(&(gpa & !(PAGE_2M - 1)));
                g.npt4k.insert(gpa, spa);
            }
        }
        Ok(())
    }

    /// Hypervisor: removes the leaf that maps `gpa`.
    pub fn npt_unmap(&mut self, asid: Asid, gpa: u64) -> Result<(), OpError> {
        let g = self
            .guests
            .get_mut(&asid)
            .ok_or(OpError::Sp(SpStatus::INVALID_GUEST))?;
        g.npt2m.remove(&(gpa & !(PAGE_2M - 1)));
        g.npt4k.remove(&(gpa & !(PAGE_4K - 1)));
        Ok(())
    }

    /// Host data write (table row 1: Hypervisor-Owned, else `#PF` with error bit 31). The range must not
    /// cross a page.
    pub fn host_write(&mut self, spa: u64, data: &[u8]) -> Result<(), OpError> {
        if (spa % PAGE_4K) as usize + data.len() > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        if self.rules.on(r::HOST_WRITE)
            && self.covered(spa)
            && self.effective_entry(spa).1.assigned()
        {
            self.blocked.set(Some(r::HOST_WRITE));
            return Err(Fault::Pf {
                err: pferr::RMP | pferr::WRITE | pferr::PRESENT,
            }
            .into());
        }
        self.mem.write(spa, data);
        Ok(())
    }

    /// Host data read: not RMP-checked; returns what DRAM holds (ciphertext of private pages).
    pub fn host_read(&self, spa: u64, len: usize) -> Result<Vec<u8>, OpError> {
        if (spa % PAGE_4K) as usize + len > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let mut v = vec![0u8; len];
        self.mem.read(spa, &mut v);
        Ok(v)
    }

    /// RMPUPDATE (snp.md §4.4).
    pub fn rmpupdate(&mut self, spa: u64, input: &RmpUpdateInput) -> RmpStatus {
        let size = if input.pagesize & 1 == 1 {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        };
        let asid = input.asid.get();
        if !aligned(spa, size.bytes())
            || !self.covered(spa)
            || input.assigned > 1
            || input.immutable > 1
            || input.pagesize > 1
            || asid > MAX_ASID
            || (input.assigned == 0 && asid != 0)
        {
            return RmpStatus::FAIL_INPUT;
        }
        let (eaddr, cur) = self.effective_entry(spa);
        if self.rules.on(r::RMPUPDATE_IMMUTABLE) && cur.immutable() {
            self.blocked.set(Some(r::RMPUPDATE_IMMUTABLE));
            return RmpStatus::FAIL_PERMISSION;
        }
        if cur.assigned() && cur.page_size() == PageSize::Size2M && size == PageSize::Size4K {
            return RmpStatus::FAIL_OVERLAP;
        }
        if size == PageSize::Size2M && eaddr == spa && cur.page_size() == PageSize::Size4K {
            let overlap = (1..512).any(|i| self.rmp_entry(spa + i * PAGE_4K).assigned());
            if overlap {
                return RmpStatus::FAIL_OVERLAP;
            }
        }
        let old = self.rmp_entry(spa);
        let mut n = RmpEntry::default();
        if !self.rules.on(r::RMPUPDATE_CLEARS_VALIDATED) {
            n.set_validated(old.validated());
        }
        n.set_assigned(input.assigned == 1);
        n.set_page_size(size);
        n.set_immutable(input.immutable == 1);
        n.set_gpa(input.gpa.get());
        n.set_asid(asid);
        if input.assigned == 1 {
            n.set_perms(0, perm::ALL);
        }
        self.write_entry(spa, n);
        RmpStatus::SUCCESS
    }

    /// PSMASH (snp.md §4.4): splits a 2M entry into 512 4K entries with contiguous GPAs, every other field
    /// (Validated included) copied.
    pub fn psmash(&mut self, spa: u64) -> RmpStatus {
        if !aligned(spa, PAGE_2M) || !self.covered(spa) {
            return RmpStatus::FAIL_INPUT;
        }
        let e = self.rmp_entry(spa);
        if !e.assigned() || e.page_size() != PageSize::Size2M {
            return RmpStatus::FAIL_INPUT;
        }
        if self.rules.on(r::RMPUPDATE_IMMUTABLE) && e.immutable() {
            self.blocked.set(Some(r::RMPUPDATE_IMMUTABLE));
            return RmpStatus::FAIL_PERMISSION;
        }
        for i in 0..512 {
            let mut s = e;
            s.set_page_size(PageSize::Size4K);
            s.set_gpa(e.gpa() + i * PAGE_4K);
            self.write_entry(spa + i * PAGE_4K, s);
        }
        RmpStatus::SUCCESS
    }

    /// RMPREAD (Zen 5, snp.md §4.1): the governing entry of `spa` in the RMPUPDATE operand layout.
    pub fn rmpread(&self, spa: u64) -> Result<RmpUpdateInput, RmpStatus> {
        if !aligned(spa, PAGE_4K) || !self.covered(spa) {
            return Err(RmpStatus::FAIL_INPUT);
        }
        let (_, e) = self.effective_entry(spa);
        Ok(RmpUpdateInput {
            gpa: e.gpa().into(),
            assigned: u8::from(e.assigned()),
            pagesize: u8::from(e.page_size() == PageSize::Size2M),
            immutable: u8::from(e.immutable()),
            _rsvd_0x0b: 0,
            asid: e.asid().into(),
        })
    }

    // ----------------------------------------------------------------------------------------------
    // Guest

    fn npf(exitinfo1: u64, gpa: u64) -> OpError {
        Fault::Npf { exitinfo1, gpa }.into()
    }

    /// The RMP checks of a private (C=1) guest access or fetch, in table order (snp.md §4.3): Covered,
    /// Guest-Owned, Reverse-Map, Mutable, Page-Size → `#NPF`; Validated → `#VC` 0x404; VMPL → `#NPF`.
    /// Returns the system physical address.
    pub fn check_private(
        &self,
        asid: Asid,
        vmpl: Vmpl,
        gpa: u64,
        kind: Access,
    ) -> Result<u64, OpError> {
        let mut info = pferr::USER | pferr::GUEST_FINAL | pferr::GUEST_ENC;
        match kind {
            Access::Write => info |= pferr::WRITE,
            Access::Fetch => info |= pferr::FETCH,
            Access::Read => {}
        }
        let Some((spa, npt_size)) = self.translate(asid, gpa) else {
            return Err(Self::npf(info, gpa));
        };
        info |= pferr::PRESENT;
        let rmpf = info | pferr::RMP;
        if self.rules.on(r::COVERED) && !self.covered(spa) {
            self.blocked.set(Some(r::COVERED));
            return Err(Self::npf(rmpf, gpa));
        }
        // A 2M nested mapping is checked once, against the entry of its 2M-aligned SPA (the check that
        // fills a 2M TLB entry); the Page-Size check is what makes that sound.
        let e = match npt_size {
            PageSize::Size2M => self.effective_entry(spa & !(PAGE_2M - 1)).1,
            PageSize::Size4K => self.effective_entry(spa).1,
        };
        let span = npt_size.bytes().max(e.page_size().bytes());
        if self.rules.on(r::GUEST_OWNED) && !(e.assigned() && e.asid() == asid) {
            self.blocked.set(Some(r::GUEST_OWNED));
            return Err(Self::npf(rmpf, gpa));
        }
        if self.rules.on(r::REVERSE_MAP) && e.gpa() != gpa & !(span - 1) {
            self.blocked.set(Some(r::REVERSE_MAP));
            return Err(Self::npf(rmpf, gpa));
        }
        if self.rules.on(r::MUTABLE) && e.immutable() {
            self.blocked.set(Some(r::MUTABLE));
            return Err(Self::npf(rmpf, gpa));
        }
        if self.rules.on(r::PAGE_SIZE) && e.page_size() != npt_size {
            self.blocked.set(Some(r::PAGE_SIZE));
            return Err(Self::npf(rmpf, gpa));
        }
        if self.rules.on(r::VALIDATED) && !e.validated() {
            self.blocked.set(Some(r::VALIDATED));
            return Err(Fault::Vc {
                code: VC_PAGE_NOT_VALIDATED,
            }
            .into());
        }
        if self.rules.on(r::VMPL) {
            let p = e.perms(vmpl);
            let ok = match kind {
                Access::Read => p & perm::READ != 0,
                // Write without Read is an illegal configuration: #NPF on data access.
                Access::Write => p & perm::WRITE != 0 && p & perm::READ != 0,
                Access::Fetch => p & perm::EXEC_SUPER != 0,
            };
            if !ok {
                self.blocked.set(Some(r::VMPL));
                return Err(Self::npf(rmpf | pferr::GUEST_VMPL, gpa));
            }
        }
        Ok(spa)
    }

    fn engine(&self, asid: Asid) -> Option<&Engine> {
        self.guests.get(&asid).map(|g| &g.engine)
    }

    /// Guest private (C=1) data write of `data` at `gpa` (must not cross a page).
    pub fn guest_write_private(
        &mut self,
        asid: Asid,
        vmpl: Vmpl,
        gpa: u64,
        data: &[u8],
    ) -> Result<(), OpError> {
        let off = (gpa % PAGE_4K) as usize;
        if off + data.len() > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let spa = self.check_private(asid, vmpl, gpa, Access::Write)?;
        let page_spa = spa & !(PAGE_4K - 1);
        if !self.rules.on(r::MEM_ENCRYPT) {
            self.mem.write(spa, data);
            return Ok(());
        }
        let Machine { guests, mem, .. } = self;
        let engine = &guests
            .get(&asid)
            .ok_or(OpError::Sp(SpStatus::INVALID_GUEST))?
            .engine;
        let page = mem.page_mut(page_spa);
        // Only the 16-byte blocks the write touches go through the engine; a block written only in
        // part is decrypted first (read-modify-write, as the memory controller does).
        let (b0, b1) = (off / 16, (off + data.len()).div_ceil(16));
        let range = &mut page[b0 * 16..b1 * 16];
        if off % 16 != 0 || data.len() % 16 != 0 {
            engine.decrypt_blocks_at(page_spa, range, b0);
        }
        range[off - b0 * 16..off - b0 * 16 + data.len()].copy_from_slice(data);
        engine.encrypt_blocks_at(page_spa, range, b0);
        Ok(())
    }

    /// Guest private (C=1) data read of `len` bytes at `gpa` (must not cross a page).
    pub fn guest_read_private(
        &self,
        asid: Asid,
        vmpl: Vmpl,
        gpa: u64,
        len: usize,
    ) -> Result<Vec<u8>, OpError> {
        if (gpa % PAGE_4K) as usize + len > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let mut out = vec![0u8; len];
        self.guest_read_private_into(asid, vmpl, gpa, &mut out)?;
        Ok(out)
    }

    /// Guest private (C=1) read into `out` (must not cross a page).
    pub fn guest_read_private_into(
        &self,
        asid: Asid,
        vmpl: Vmpl,
        gpa: u64,
        out: &mut [u8],
    ) -> Result<(), OpError> {
        let off = (gpa % PAGE_4K) as usize;
        if off + out.len() > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let spa = self.check_private(asid, vmpl, gpa, Access::Read)?;
        if !self.rules.on(r::MEM_ENCRYPT) {
            self.mem.read(spa, out);
            return Ok(());
        }
        let page_spa = spa & !(PAGE_4K - 1);
        let (b0, b1) = (off / 16, (off + out.len()).div_ceil(16));
        let mut buf = [0u8; 4096];
        let range = &mut buf[..(b1 - b0) * 16];
        self.mem.read(page_spa + (b0 * 16) as u64, range);
        if let Some(e) = self.engine(asid) {
            e.decrypt_blocks_at(page_spa, range, b0);
        }
        out.copy_from_slice(&range[off - b0 * 16..off - b0 * 16 + out.len()]);
        Ok(())
    }

    /// Guest shared (C=0) write: checked only for Hypervisor-Owned (snp.md §4.3); stored as plaintext.
    pub fn guest_write_shared(&mut self, asid: Asid, gpa: u64, data: &[u8]) -> Result<(), OpError> {
        if (gpa % PAGE_4K) as usize + data.len() > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let info = pferr::USER | pferr::GUEST_FINAL | pferr::WRITE;
        let Some((spa, _)) = self.translate(asid, gpa) else {
            return Err(Self::npf(info, gpa));
        };
        if self.rules.on(r::SHARED_WRITE)
            && self.covered(spa)
            && self.effective_entry(spa).1.assigned()
        {
            self.blocked.set(Some(r::SHARED_WRITE));
            return Err(Self::npf(info | pferr::PRESENT | pferr::RMP, gpa));
        }
        self.mem.write(spa, data);
        Ok(())
    }

    /// Guest shared (C=0) read: not RMP-checked; no decryption.
    pub fn guest_read_shared(&self, asid: Asid, gpa: u64, len: usize) -> Result<Vec<u8>, OpError> {
        if (gpa % PAGE_4K) as usize + len > 4096 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let Some((spa, _)) = self.translate(asid, gpa) else {
            return Err(Self::npf(pferr::USER | pferr::GUEST_FINAL, gpa));
        };
        let mut v = vec![0u8; len];
        self.mem.read(spa, &mut v);
        Ok(v)
    }

    /// The common RMP checks of PVALIDATE and RMPADJUST (Guest-Owned, Reverse-Map, Mutable, size), with
    /// GVA = GPA. Returns the governing entry's address and entry.
    fn insn_entry(&self, asid: Asid, gpa: u64, size: PageSize) -> Result<(u64, RmpEntry), OpError> {
        if !aligned(gpa, size.bytes()) {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let info = pferr::USER | pferr::GUEST_FINAL | pferr::GUEST_ENC | pferr::WRITE;
        let Some((spa, _)) = self.translate(asid, gpa) else {
            return Err(Self::npf(info, gpa));
        };
        let rmpf = info | pferr::PRESENT | pferr::RMP;
        if self.rules.on(r::COVERED) && !self.covered(spa) {
            self.blocked.set(Some(r::COVERED));
            return Err(Self::npf(rmpf, gpa));
        }
        let (addr, e) = self.effective_entry(spa);
        if self.rules.on(r::GUEST_OWNED) && !(e.assigned() && e.asid() == asid) {
            self.blocked.set(Some(r::GUEST_OWNED));
            return Err(Self::npf(rmpf, gpa));
        }
        if self.rules.on(r::REVERSE_MAP) && e.gpa() != gpa & !(e.page_size().bytes() - 1) {
            self.blocked.set(Some(r::REVERSE_MAP));
            return Err(Self::npf(rmpf, gpa));
        }
        if self.rules.on(r::MUTABLE) && e.immutable() {
            self.blocked.set(Some(r::MUTABLE));
            return Err(Self::npf(rmpf, gpa));
        }
        match (size, e.page_size()) {
            (PageSize::Size2M, PageSize::Size4K) => Err(OpError::Rmp(RmpStatus::FAIL_SIZEMISMATCH)),
            (PageSize::Size4K, PageSize::Size2M) => Err(Self::npf(rmpf | pferr::GUEST_SIZEM, gpa)),
            _ => Ok((addr, e)),
        }
    }

    /// PVALIDATE (snp.md §4.4): sets or clears VALIDATED of the page backing `gpa`. `Ok(true)` is CF=1
    /// (already in the requested state, nothing changed). Only VMPL0 may execute it (`#GP` otherwise;
    /// snp.md marks this UNVERIFIED, it is how SVSM-based guests behave).
    pub fn pvalidate(
        &mut self,
        asid: Asid,
        vmpl: Vmpl,
        gpa: u64,
        size: PageSize,
        validate: bool,
    ) -> Result<bool, OpError> {
        if vmpl != 0 {
            return Err(Fault::Gp.into());
        }
        let (addr, mut e) = self.insn_entry(asid, gpa, size)?;
        if e.validated() == validate {
            return Ok(true);
        }
        e.set_validated(validate);
        self.write_entry(addr, e);
        Ok(false)
    }

    /// RMPADJUST (snp.md §4.4): sets the permission mask of `target` for the page backing `gpa`.
    pub fn rmpadjust(
        &mut self,
        asid: Asid,
        vmpl: Vmpl,
        gpa: u64,
        size: PageSize,
        target: Vmpl,
        mask: u8,
    ) -> Result<(), OpError> {
        if target > 3 || mask & !perm::ALL != 0 {
            return Err(OpError::Rmp(RmpStatus::FAIL_INPUT));
        }
        let (addr, mut e) = self.insn_entry(asid, gpa, size)?;
        if self.rules.on(r::RMPADJUST_NO_ESCALATE) && (target <= vmpl || mask & !e.perms(vmpl) != 0)
        {
            self.blocked.set(Some(r::RMPADJUST_NO_ESCALATE));
            return Err(OpError::Rmp(RmpStatus::FAIL_PERMISSION));
        }
        e.set_perms(target, mask);
        self.write_entry(addr, e);
        Ok(())
    }

    // ----------------------------------------------------------------------------------------------
    // AMD-SP

    /// SNP_LAUNCH_START: creates the guest context of `asid` with `policy` and its memory key (AES-256-XTS
    /// when policy bit 22 asks and the product has it, else AES-128 XEX).
    pub fn launch_start(&mut self, asid: Asid, pol: u64) -> Result<(), OpError> {
        if asid == 0 || asid > MAX_ASID || self.guests.contains_key(&asid) {
            return Err(OpError::Sp(SpStatus::INVALID_GUEST));
        }
        if pol & policy::RSVD_MBO == 0
            || (pol & policy::MEM_AES_256_XTS != 0 && !self.cfg.product.has_aes_256_xts())
        {
            return Err(OpError::Sp(SpStatus::POLICY_FAILURE));
        }
        let mut rng = sim_core::rng::seeded(&format!("snp/memory/vek/asid{asid}"), self.cfg.seed);
        let engine = if pol & policy::MEM_AES_256_XTS != 0 {
            let (mut k1, mut k2) = ([0u8; 32], [0u8; 32]);
            rng.fill_bytes(&mut k1);
            rng.fill_bytes(&mut k2);
            Engine::xts256(&k1, &k2)
        } else {
            let mut k = [0u8; 16];
            rng.fill_bytes(&mut k);
            Engine::xex128(&k)
        };
        self.guests.insert(
            asid,
            Guest {
                policy: pol,
                ld: [0; 48],
                engine,
                npt4k: PfnMap::default(),
                npt2m: PfnMap::default(),
            },
        );
        Ok(())
    }

    /// SNP_LAUNCH_UPDATE of one 4 KiB page: the page must be Pre-Guest for `asid`; it is measured as a
    /// NORMAL page at the GPA of its RMP entry (the attestation model's PAGE_INFO digest,
    /// [`crate::sp::launch::page_info_digest`], so both models compute one launch digest), encrypted in
    /// place with the guest key, and becomes Guest-Valid (snp.md §3.1-§3.2).
    pub fn launch_update(&mut self, asid: Asid, spa: u64) -> Result<(), OpError> {
        if !aligned(spa, PAGE_4K) || !self.covered(spa) {
            return Err(OpError::Sp(SpStatus::INVALID_ADDRESS));
        }
        let engine = self
            .guests
            .get(&asid)
            .map(|g| g.engine.clone())
            .ok_or(OpError::Sp(SpStatus::INVALID_GUEST))?;
        let mut e = self.rmp_entry(spa);
        if e.state() != Some(PageState::PreGuest) || e.page_size() != PageSize::Size4K {
            return Err(OpError::Sp(SpStatus::INVALID_PAGE_STATE));
        }
        if e.asid() != asid {
            return Err(OpError::Sp(SpStatus::INVALID_PAGE_OWNER));
        }
        let ld = self.guests.get(&asid).map(|g| g.ld).unwrap_or([0; 48]);
        let ld = crate::sp::launch::page_info_digest(
            &ld,
            crate::layout::page_info::PageType::Normal,
            &self.mem.page_mut(spa)[..],
            e.gpa(),
            [0; 3],
        );
        if let Some(g) = self.guests.get_mut(&asid) {
            g.ld = ld;
        }
        if self.rules.on(r::MEM_ENCRYPT) {
            engine.encrypt_page(spa, self.mem.page_mut(spa));
        }
        e.set_validated(true);
        e.set_immutable(false);
        self.write_entry(spa, e);
        Ok(())
    }

    /// The launch digest of guest `asid` so far (the report's MEASUREMENT once launched).
    pub fn launch_digest(&self, asid: Asid) -> Option<[u8; 48]> {
        self.guests.get(&asid).map(|g| g.ld)
    }

    /// SNP_PAGE_RECLAIM: an immutable firmware-held page (Firmware, Context, Pre-Guest, Pre-Swap) becomes
    /// Reclaim, which the hypervisor can then RMPUPDATE back to itself. The RMP's own pages cannot be
    /// reclaimed.
    pub fn page_reclaim(&mut self, spa: u64) -> Result<(), OpError> {
        if !aligned(spa, PAGE_4K) || !self.covered(spa) || self.is_rmp_page(spa) {
            return Err(OpError::Sp(SpStatus::INVALID_ADDRESS));
        }
        let (addr, e) = self.effective_entry(spa);
        if addr != spa || e.page_size() != PageSize::Size4K {
            return Err(OpError::Sp(SpStatus::INVALID_PAGE_SIZE));
        }
        match e.state() {
            Some(
                PageState::Firmware | PageState::Context | PageState::PreGuest | PageState::PreSwap,
            ) => {
                let mut n = RmpEntry::default();
                n.set_assigned(true);
                self.write_entry(spa, n);
                Ok(())
            }
            _ => Err(OpError::Sp(SpStatus::INVALID_PAGE_STATE)),
        }
    }

    fn swap_allowed(&self, asid: Asid) -> Result<&Guest, OpError> {
        let g = self
            .guests
            .get(&asid)
            .ok_or(OpError::Sp(SpStatus::INVALID_GUEST))?;
        if self.rules.on(r::PAGE_SWAP_DISABLE) && g.policy & policy::PAGE_SWAP_DISABLE != 0 {
            self.blocked.set(Some(r::PAGE_SWAP_DISABLE));
            return Err(OpError::Sp(SpStatus::POLICY_FAILURE));
        }
        Ok(g)
    }

    /// A 4 KiB page of `asid` in state Guest-Valid or Guest-Invalid (for the page commands).
    fn guest_page(&self, asid: Asid, spa: u64, want_valid: bool) -> Result<RmpEntry, OpError> {
        if !aligned(spa, PAGE_4K) || !self.covered(spa) {
            return Err(OpError::Sp(SpStatus::INVALID_ADDRESS));
        }
        let (addr, e) = self.effective_entry(spa);
        if addr != spa || e.page_size() != PageSize::Size4K {
            return Err(OpError::Sp(SpStatus::INVALID_PAGE_SIZE));
        }
        if !e.assigned() || e.asid() != asid {
            return Err(OpError::Sp(SpStatus::INVALID_PAGE_OWNER));
        }
        match e.state() {
            Some(PageState::GuestValid) => Ok(e),
            Some(PageState::GuestInvalid) if !want_valid => Ok(e),
            _ => Err(OpError::Sp(SpStatus::INVALID_PAGE_STATE)),
        }
    }

    /// A destination page for the page commands: 4 KiB, covered, in Hypervisor state.
    fn free_page(&self, spa: u64) -> Result<(), OpError> {
        if !aligned(spa, PAGE_4K) || !self.covered(spa) {
            return Err(OpError::Sp(SpStatus::INVALID_ADDRESS));
        }
        let (addr, e) = self.effective_entry(spa);
        if addr != spa || e.state() != Some(PageState::Hypervisor) {
            return Err(OpError::Sp(SpStatus::INVALID_PAGE_STATE));
        }
        Ok(())
    }

    fn plaintext(&self, engine: &Engine, spa: u64) -> Page {
        let mut p = self.mem.read_page(spa);
        if self.rules.on(r::MEM_ENCRYPT) {
            engine.decrypt_page(spa, &mut p);
        }
        p
    }

    fn store_private(&mut self, engine: &Engine, spa: u64, mut p: Page) {
        if self.rules.on(r::MEM_ENCRYPT) {
            engine.encrypt_page(spa, &mut p);
        }
        *self.mem.page_mut(spa) = p;
    }

    /// SNP_PAGE_MOVE: moves a guest page from `src` to a Hypervisor-state page `dst`, re-encrypting it at
    /// `dst` (the ciphertext changes with the address, which Heracles exploits). `dst` takes the RMP
    /// fields (GPA, Validated, VMPL permissions); `src` becomes Reclaim. POLICY_FAILURE when policy bit 25
    /// is set. (The ABI's page-state bookkeeping around MOVE is simplified to these two states.)
    pub fn page_move(&mut self, asid: Asid, src: u64, dst: u64) -> Result<(), OpError> {
        let engine = self.swap_allowed(asid)?.engine.clone();
        let e = self.guest_page(asid, src, false)?;
        self.free_page(dst)?;
        if src == dst {
            return Err(OpError::Sp(SpStatus::INVALID_PARAM));
        }
        let p = self.plaintext(&engine, src);
        self.store_private(&engine, dst, p);
        self.write_entry(dst, e);
        let mut rec = RmpEntry::default();
        rec.set_assigned(true);
        self.write_entry(src, rec);
        Ok(())
    }

    fn blob_mac(&self, b: &SwapBlob) -> [u8; 32] {
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(&self.swap_mac_key) else {
            return [0u8; 32];
        };
        m.update(&b.asid.to_le_bytes());
        m.update(&b.gpa.to_le_bytes());
        m.update(&[u8::from(b.validated)]);
        m.update(&b.perms.to_le_bytes());
        m.update(&b.nonce.to_le_bytes());
        m.update(&b.data[..]);
        m.finalize().into_bytes().into()
    }

    /// SNP_PAGE_SWAP_OUT: the SP re-encrypts a Guest-Valid page under its swap key into a blob the host
    /// keeps (returned as a slot number) and makes the page Pre-Swap (immutable, still validated) so the
    /// guest cannot change it behind the swapped copy. One metadata nonce per blob makes SWAP_IN
    /// one-time. POLICY_FAILURE when policy bit 25 is set.
    pub fn page_swap_out(&mut self, asid: Asid, spa: u64) -> Result<usize, OpError> {
        let engine = self.swap_allowed(asid)?.engine.clone();
        let mut e = self.guest_page(asid, spa, true)?;
        let mut data = Box::new(self.plaintext(&engine, spa));
        let nonce = self.next_nonce;
        self.next_nonce += 1;
        self.swap_engine.encrypt_page(nonce << 12, &mut data);
        let mut b = SwapBlob {
            asid,
            gpa: e.gpa(),
            validated: e.validated(),
            perms: e.q1.get(),
            nonce,
            data,
            mac: [0u8; 32],
        };
        b.mac = self.blob_mac(&b);
        self.blobs.push(b);
        self.outstanding.insert(nonce);
        e.set_immutable(true);
        self.write_entry(spa, e);
        Ok(self.blobs.len() - 1)
    }

    /// SNP_PAGE_SWAP_IN: restores blob `slot` into a Hypervisor-state page `dst`, re-encrypted at `dst`,
    /// with the swapped RMP fields; the metadata nonce is consumed (a replayed blob fails with
    /// INVALID_MDATA_ENTRY). POLICY_FAILURE when policy bit 25 is set.
    pub fn page_swap_in(&mut self, asid: Asid, slot: usize, dst: u64) -> Result<(), OpError> {
        let engine = self.swap_allowed(asid)?.engine.clone();
        let b = self
            .blobs
            .get(slot)
            .filter(|b| b.asid == asid)
            .cloned()
            .ok_or(OpError::Sp(SpStatus::INVALID_PARAM))?;
        if !self.outstanding.contains(&b.nonce) || self.blob_mac(&b) != b.mac {
            return Err(OpError::Sp(SpStatus::INVALID_MDATA_ENTRY));
        }
        self.free_page(dst)?;
        let mut p = *b.data;
        self.swap_engine.decrypt_page(b.nonce << 12, &mut p);
        self.store_private(&engine, dst, p);
        let mut e = RmpEntry::default();
        e.set_assigned(true);
        e.set_asid(asid);
        e.set_gpa(b.gpa);
        e.set_validated(b.validated);
        e.q1.set(b.perms);
        self.write_entry(dst, e);
        self.outstanding.remove(&b.nonce);
        Ok(())
    }

    /// Number of swap blobs the host holds (slots `0..n`).
    pub fn swap_slots(&self) -> usize {
        self.blobs.len()
    }
}
