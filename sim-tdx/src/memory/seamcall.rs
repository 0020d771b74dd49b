//! The TDX module state and the host (SEAMCALL) leaves that manage TD memory and lifecycle
//! (tdx.md §5.1–§5.5).
//!
//! Every leaf checks in the module's order (TDR, TD state, GPA and level, SEPT walk, SEPT state,
//! blocking and TLB tracking, the named page) and changes nothing unless every check passed. Each
//! check consults the rule of [`super::rules`] it implements.
//!
//! Modelling choices (where the ABI leaves room, or where the model is smaller than hardware):
//! - The TDCS needs [`TDCS_PAGES`] TDCX page(s) (hardware reports its count in TDH.SYS.INFO); the SEPT
//!   root is part of it. GPAW is 48, so the shared bit is GPA bit 47; the SEPT has 4 levels.
//! - Leaf and 2 MiB pages: PAGE.AUG/REMOVE/BLOCK/UNBLOCK take level 0 or 1; PAGE.ADD is 4 KiB only.
//! - vCPUs run synchronously: TDH.VP.ENTER leaves the vCPU running until a TD exit (a guest fault, a
//!   timer, a host IPI through [`TdxModule::vp_exit`]); guest operations happen while it runs. TLB
//!   epochs follow `is_tlb_tracked()` and `tdh_mem_track.c` exactly (two REFCOUNTs).
//! - A fatal TD still accepts the memory and teardown leaves; TDH.VP.ENTER returns TDX_TD_FATAL.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::rand_core::RngCore;
use sha2::{Digest, Sha384};
use sim_core::rng::ChaCha20Rng;
use sim_core::rules::RuleSet;

use super::errors::{OperandId, TdxError, TdxStatus};
use super::pamt::{PageSize, PageType, Pamt, PamtEntry};
use super::rules;
use super::sept::{level_size, Sept, SeptEntry, SeptState, ROOT_LEVEL};
use super::tme::{self, IntegrityMode, KeyIdKind, Memory, PAGE_SIZE};

/// TDCX pages the model's TDCS needs before TDH.MNG.INIT.
pub const TDCS_PAGES: usize = 1;
/// GPA width; the shared bit is `GPAW - 1`.
pub const GPAW: u32 = 48;
/// The shared bit of a GPA.
pub const SHARED_BIT: u64 = 1 << (GPAW - 1);
/// ATTRIBUTES.DEBUG (bit 0).
pub const ATTR_DEBUG: u64 = 1 << 0;
/// ATTRIBUTES.SEPT_VE_DISABLE (bit 28).
pub const ATTR_SEPT_VE_DISABLE: u64 = 1 << 28;
/// `STEPPING_EPF_THRESHOLD`.
pub const STEPPING_EPF_THRESHOLD: u8 = 6;
/// `STEPPING_TSC_THRESHOLD` (4 KiB cycles).
pub const STEPPING_TSC_THRESHOLD: u64 = 4096;

/// TDR lifecycle state (`td_control_structures.h`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifecycle {
    /// 0: HKID assigned, keys not yet configured.
    TD_HKID_ASSIGNED,
    /// 1: keys configured on every package.
    TD_KEYS_CONFIGURED,
    /// 2: vCPUs flushed, HKID being released.
    TD_BLOCKED,
    /// 3: HKID freed; pages may be reclaimed.
    TD_TEARDOWN,
}

/// TD operation state (`OP_STATE`, tdx.md §5.2). Migration states are listed for completeness; the
/// model does not migrate.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpState {
    /// 0
    OP_STATE_UNINITIALIZED,
    /// 1
    OP_STATE_INITIALIZED,
    /// 2
    OP_STATE_RUNNABLE,
    /// 3
    OP_STATE_LIVE_EXPORT,
    /// 4
    OP_STATE_PAUSED_EXPORT,
    /// 5
    OP_STATE_POST_EXPORT,
    /// 6
    OP_STATE_MEMORY_IMPORT,
    /// 7
    OP_STATE_STATE_IMPORT,
    /// 8
    OP_STATE_POST_IMPORT,
    /// 9
    OP_STATE_LIVE_IMPORT,
    /// 10
    OP_STATE_FAILED_IMPORT,
}

impl OpState {
    /// Whether a vCPU may be running, so removals need BLOCK + TRACK (`op_state_is_tlb_tracking_required`).
    pub fn tlb_tracking_required(self) -> bool {
        matches!(
            self,
            Self::OP_STATE_RUNNABLE
                | Self::OP_STATE_LIVE_EXPORT
                | Self::OP_STATE_PAUSED_EXPORT
                | Self::OP_STATE_POST_EXPORT
                | Self::OP_STATE_LIVE_IMPORT
        )
    }
}

/// The host leaves the model implements, with their SEAMCALL leaf numbers (tdx.md §5.1).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leaf {
    /// 0
    TDH_VP_ENTER,
    /// 1
    TDH_MNG_ADDCX,
    /// 2
    TDH_MEM_PAGE_ADD,
    /// 3
    TDH_MEM_SEPT_ADD,
    /// 5
    TDH_MEM_PAGE_RELOCATE,
    /// 6
    TDH_MEM_PAGE_AUG,
    /// 7
    TDH_MEM_RANGE_BLOCK,
    /// 8
    TDH_MNG_KEY_CONFIG,
    /// 9
    TDH_MNG_CREATE,
    /// 10
    TDH_VP_CREATE,
    /// 15
    TDH_MEM_PAGE_DEMOTE,
    /// 16
    TDH_MR_EXTEND,
    /// 17
    TDH_MR_FINALIZE,
    /// 19
    TDH_MNG_VPFLUSHDONE,
    /// 20
    TDH_MNG_KEY_FREEID,
    /// 21
    TDH_MNG_INIT,
    /// 22
    TDH_VP_INIT,
    /// 23
    TDH_MEM_PAGE_PROMOTE,
    /// 25
    TDH_MEM_SEPT_RD,
    /// 28
    TDH_PHYMEM_PAGE_RECLAIM,
    /// 29
    TDH_MEM_PAGE_REMOVE,
    /// 30
    TDH_MEM_SEPT_REMOVE,
    /// 38
    TDH_MEM_TRACK,
    /// 39
    TDH_MEM_RANGE_UNBLOCK,
    /// 41
    TDH_PHYMEM_PAGE_WBINVD,
}

impl Leaf {
    /// The SEAMCALL leaf number (RAX).
    pub const fn number(self) -> u64 {
        match self {
            Self::TDH_VP_ENTER => 0,
            Self::TDH_MNG_ADDCX => 1,
            Self::TDH_MEM_PAGE_ADD => 2,
            Self::TDH_MEM_SEPT_ADD => 3,
            Self::TDH_MEM_PAGE_RELOCATE => 5,
            Self::TDH_MEM_PAGE_AUG => 6,
            Self::TDH_MEM_RANGE_BLOCK => 7,
            Self::TDH_MNG_KEY_CONFIG => 8,
            Self::TDH_MNG_CREATE => 9,
            Self::TDH_VP_CREATE => 10,
            Self::TDH_MEM_PAGE_DEMOTE => 15,
            Self::TDH_MR_EXTEND => 16,
            Self::TDH_MR_FINALIZE => 17,
            Self::TDH_MNG_VPFLUSHDONE => 19,
            Self::TDH_MNG_KEY_FREEID => 20,
            Self::TDH_MNG_INIT => 21,
            Self::TDH_VP_INIT => 22,
            Self::TDH_MEM_PAGE_PROMOTE => 23,
            Self::TDH_MEM_SEPT_RD => 25,
            Self::TDH_PHYMEM_PAGE_RECLAIM => 28,
            Self::TDH_MEM_PAGE_REMOVE => 29,
            Self::TDH_MEM_SEPT_REMOVE => 30,
            Self::TDH_MEM_TRACK => 38,
            Self::TDH_MEM_RANGE_UNBLOCK => 39,
            Self::TDH_PHYMEM_PAGE_WBINVD => 41,
        }
    }

    /// The op-states a leaf is allowed in (tdx.md §5.2, `seamcall_state_lookup`; the model's TDs reach
    /// UNINITIALIZED, INITIALIZED and RUNNABLE).
    pub fn allowed_op_states(self) -> &'static [OpState] {
        use OpState::*;
        match self {
            Self::TDH_MNG_ADDCX | Self::TDH_MNG_INIT => &[OP_STATE_UNINITIALIZED],
            Self::TDH_MEM_PAGE_ADD
            | Self::TDH_MR_EXTEND
            | Self::TDH_MR_FINALIZE
            | Self::TDH_VP_INIT
            | Self::TDH_VP_CREATE => &[OP_STATE_INITIALIZED],
            Self::TDH_MEM_PAGE_AUG => &[
                OP_STATE_INITIALIZED,
                OP_STATE_RUNNABLE,
                OP_STATE_LIVE_EXPORT,
                OP_STATE_LIVE_IMPORT,
            ],
            Self::TDH_VP_ENTER => &[
                OP_STATE_RUNNABLE,
                OP_STATE_LIVE_EXPORT,
                OP_STATE_LIVE_IMPORT,
            ],
            _ => &[
                OP_STATE_INITIALIZED,
                OP_STATE_RUNNABLE,
                OP_STATE_LIVE_EXPORT,
                OP_STATE_PAUSED_EXPORT,
                OP_STATE_POST_EXPORT,
                OP_STATE_POST_IMPORT,
                OP_STATE_LIVE_IMPORT,
            ],
        }
    }
}

/// One TD: TDR, TDCS and the SEPT.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Td {
    /// TDR page frame number (the TD's handle).
    pub tdr: u64,
    /// Private HKID.
    pub hkid: u16,
    /// TDR lifecycle state.
    pub lifecycle: Lifecycle,
    /// OP_STATE.
    pub op_state: OpState,
    /// TDCX frames.
    pub tdcx: Vec<u64>,
    /// ATTRIBUTES.
    pub attributes: u64,
    /// The Secure EPT.
    pub sept: Sept,
    /// TDR.CHLDCNT: 4 KiB pages (TDCX, TDVPR, SEPT, private) the TD owns.
    pub chldcnt: u64,
    /// TD_EPOCH (starts at 1, as `tdh_mng_init.c`).
    pub epoch: u64,
    /// `REFCOUNT[2]`: vCPUs running in an even / odd epoch.
    pub refcount: [u32; 2],
    /// The TD consumed poison and is fatal.
    pub fatal: bool,
    /// vCPU TDVPR frames.
    pub vcpus: Vec<u64>,
    /// MRTD (final after TDH.MR.FINALIZE).
    pub mrtd: [u8; 48],
    /// `RTMR[0..4]`.
    pub rtmr: [[u8; 48]; 4],
    /// The host's shared EPT: shared GPA page → HPA (with KeyID bits), not part of the module.
    pub shared_ept: BTreeMap<u64, u64>,
    #[doc(hidden)]
    pub mrtd_log: Vec<u8>,
}

impl Td {
    /// ATTRIBUTES.SEPT_VE_DISABLE.
    pub fn sept_ve_disable(&self) -> bool {
        self.attributes & ATTR_SEPT_VE_DISABLE != 0
    }

    /// `is_tlb_tracked()` of the TDX module for a page blocked in `bepoch`.
    pub fn is_tlb_tracked(&self, bepoch: u64) -> bool {
        if bepoch.wrapping_add(1) == self.epoch && self.refcount[(bepoch & 1) as usize] == 0 {
            return true;
        }
        bepoch.wrapping_add(1) < self.epoch
    }
}

/// vCPU state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VcpuState {
    /// TDH.VP.CREATE done.
    Created,
    /// TDH.VP.INIT done.
    Initialized,
}

/// A guest access that faulted and is retried when the vCPU is entered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingAccess {
    /// GPA.
    pub gpa: u64,
    /// Write (with this data byte) or read.
    pub write: Option<u8>,
}

/// One vCPU (TDVPR/TDVPS).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vcpu {
    /// TDVPR frame.
    pub tdvpr: u64,
    /// Owner TD's TDR frame.
    pub tdr: u64,
    /// State.
    pub state: VcpuState,
    /// Running on a logical processor.
    pub running: bool,
    /// VCPU_EPOCH: the TD epoch sampled at the last entry.
    pub epoch: u64,
    /// Cached private translations: GPA page → HPA page.
    pub tlb: BTreeMap<u64, u64>,
    /// A faulted guest access to retry on entry.
    pub pending: Option<PendingAccess>,
    /// `possibly_epf_stepping`.
    pub epf_count: u8,
    /// `last_epf_gpa_list`.
    pub epf_gpas: Vec<u64>,
    /// Guest executions of the current instruction that faulted without progress (what a zero-step
    /// attacker gets).
    pub zero_progress_runs: u32,
    /// Retired instructions (RIP progress).
    pub retired: u64,
    /// Consecutive timer exits that retired exactly one instruction (what a single-step attacker gets).
    pub single_steps: u32,
    /// `retired` at the last entry (the module's `guest_rip_on_tdentry`).
    pub entry_retired: u64,
}

/// What TDH.MEM.SEPT.RD returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeptInfo {
    /// Level of the entry.
    pub level: u8,
    /// State.
    pub state: SeptState,
    /// Address it points to.
    pub hpa: u64,
}

/// Output registers of a successful leaf that returns something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafOut {
    /// Nothing beyond TDX_SUCCESS.
    None,
    /// A warning status (bit 63 clear), e.g. TDX_GPA_RANGE_ALREADY_BLOCKED.
    Warning(TdxStatus),
    /// An HPA (REMOVE, SEPT.REMOVE, PROMOTE: the freed page).
    Hpa(u64),
    /// TDH.MEM.SEPT.RD.
    Sept(SeptInfo),
    /// TDH.PHYMEM.PAGE.RECLAIM: page type and owner.
    Reclaimed(PageType, u64),
}

/// A hook through which the attestation side of sim-tdx produces TDREPORT_STRUCT for TDG.MR.REPORT.
pub trait ReportProvider {
    /// Builds the 1024-byte TDREPORT_STRUCT of a TD (tdx.md §1) for REPORTDATA `report_data`.
    fn tdreport(&self, td: &TdMeasurements, report_data: &[u8; 64]) -> [u8; 1024];
}

/// What the memory model knows of a TD's measurements, handed to a [`ReportProvider`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TdMeasurements {
    /// ATTRIBUTES.
    pub attributes: u64,
    /// MRTD.
    pub mrtd: [u8; 48],
    /// `RTMR[0..4]`.
    pub rtmr: [[u8; 48]; 4],
}

/// Machine configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// 4 KiB frames of TDX memory (the TDMR starts at physical address 0).
    pub frames: usize,
    /// Ci or Li.
    pub integrity: IntegrityMode,
    /// Seed of the KeyID keys and of the module's stepping LFSR.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            frames: 2048,
            integrity: IntegrityMode::Cryptographic,
            seed: 0,
        }
    }
}

/// The TDX module, physical memory and the TME-MK engine.
pub struct TdxModule {
    /// Rules switched on.
    pub rules: RuleSet,
    /// Physical memory.
    pub mem: Memory,
    /// The PAMT.
    pub pamt: Pamt,
    /// TDs by TDR frame.
    pub tds: BTreeMap<u64, Td>,
    /// vCPUs by TDVPR frame.
    pub vcpus: BTreeMap<u64, Vcpu>,
    /// Private HKIDs in use.
    pub hkids: BTreeSet<u16>,
    /// The stepping mitigation's random source (`lfsr_get_random`).
    pub(crate) lfsr: ChaCha20Rng,
    /// TDG.MR.REPORT provider (the attestation side).
    pub report: Option<Box<dyn ReportProvider>>,
    /// Frames a physical attacker has copied out of DRAM, by slot.
    pub phys_slots: BTreeMap<u32, tme::Frame>,
}

type LeafResult = Result<LeafOut, TdxError>;

fn err(s: TdxStatus, o: OperandId) -> TdxError {
    TdxError::op(s, o)
}

impl TdxModule {
    /// A module over `cfg.frames` frames with every rule in `rules` on.
    pub fn new(cfg: Config, rules: RuleSet) -> Self {
        Self {
            rules,
            mem: Memory::new(cfg.frames, cfg.integrity, cfg.seed),
            pamt: Pamt::new(cfg.frames),
            tds: BTreeMap::new(),
            vcpus: BTreeMap::new(),
            hkids: BTreeSet::new(),
            lfsr: sim_core::rng::seeded("tdx-module-lfsr", cfg.seed),
            report: None,
            phys_slots: BTreeMap::new(),
        }
    }

    fn on(&self, id: &str) -> bool {
        self.rules.on(id)
    }

    /// A digest of the module state (SEPT, PAMT, TDs, vCPUs, HKIDs), for "an error changes nothing".
    pub fn state_digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.pamt.hash(&mut h);
        self.tds.hash(&mut h);
        self.vcpus.hash(&mut h);
        self.hkids.hash(&mut h);
        h.finish()
    }

    // ---- operand checks -------------------------------------------------------------------------

    /// An explicit 4 KiB page operand: aligned, HKID bits zero, inside the TDMR.
    fn check_hpa(&self, hpa: u64, op: OperandId) -> Result<u64, TdxError> {
        let (pa, keyid) = tme::split_pa(hpa);
        if hpa % PAGE_SIZE as u64 != 0 || keyid != 0 || hpa >> tme::MAX_PA_BITS != 0 {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, op));
        }
        let pfn = pa / PAGE_SIZE as u64;
        if self.pamt.get(pfn).is_none() {
            return Err(err(TdxStatus::TDX_OPERAND_ADDR_RANGE_ERROR, op));
        }
        Ok(pfn)
    }

    /// A new page for the module: as [`Self::check_hpa`] and PT_NDA (rule TDX-PAMT-PAGE-FREE).
    fn check_free_page(&self, hpa: u64, op: OperandId) -> Result<u64, TdxError> {
        let pfn = self.check_hpa(hpa, op)?;
        let pt = self.pamt.get(pfn).map(|e| e.pt);
        if self.on(rules::PAMT_PAGE_FREE) && pt != Some(PageType::PT_NDA) {
            return Err(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, op));
        }
        Ok(pfn)
    }

    /// The TDR operand: a PT_TDR page of a TD the module knows.
    fn check_tdr(&self, tdr: u64, op: OperandId) -> Result<u64, TdxError> {
        let pfn = self.check_hpa(tdr, op)?;
        let ok = self.pamt.get(pfn).map(|e| e.pt) == Some(PageType::PT_TDR);
        if !ok || !self.tds.contains_key(&pfn) {
            return Err(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, op));
        }
        Ok(pfn)
    }

    fn td(&self, pfn: u64) -> Result<&Td, TdxError> {
        self.tds
            .get(&pfn)
            .ok_or(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::TDR))
    }

    /// `check_state_map_tdcs_and_lock`: keys configured, TDCS allocated, op-state allowed.
    fn check_td_state(&self, td: &Td, leaf: Leaf) -> Result<(), TdxError> {
        if td.lifecycle != Lifecycle::TD_KEYS_CONFIGURED {
            return Err(TdxError::bare(
                if td.lifecycle == Lifecycle::TD_HKID_ASSIGNED {
                    TdxStatus::TDX_TD_KEYS_NOT_CONFIGURED
                } else {
                    TdxStatus::TDX_LIFECYCLE_STATE_INCORRECT
                },
            ));
        }
        if td.tdcx.len() < TDCS_PAGES {
            return Err(TdxError::bare(TdxStatus::TDX_TDCS_NOT_ALLOCATED));
        }
        if self.on(rules::OP_STATE) && !leaf.allowed_op_states().contains(&td.op_state) {
            return Err(TdxError::bare(TdxStatus::TDX_OP_STATE_INCORRECT));
        }
        Ok(())
    }

    /// `verify_page_info_input` + `check_gpa_validity(PRIVATE_ONLY)`.
    fn check_gpa(gpa: u64, level: u8, min: u8, max: u8) -> Result<(), TdxError> {
        if level < min
            || level > max
            || gpa % level_size(level) != 0
            || gpa >> GPAW != 0
            || gpa & SHARED_BIT != 0
        {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX));
        }
        Ok(())
    }

    /// Walk to `level` (TDX_EPT_WALK_FAILED(RCX) if an upper entry is not a non-leaf). Rule
    /// TDX-SEPT-STATE covers the walk: with it off, the entry is reached anyway.
    fn walk(&self, td: &Td, gpa: u64, level: u8) -> Result<SeptEntry, TdxError> {
        if td.sept.walk(gpa, level).is_err() && self.on(rules::SEPT_STATE) {
            return Err(err(TdxStatus::TDX_EPT_WALK_FAILED, OperandId::RCX));
        }
        Ok(td.sept.entry(level, gpa))
    }

    fn state_allowed(&self, ok: bool) -> Result<(), TdxError> {
        if !ok && self.on(rules::SEPT_STATE) {
            return Err(err(
                TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                OperandId::RCX,
            ));
        }
        Ok(())
    }

    /// The BLOCK → TRACK requirement of REMOVE/RELOCATE/DEMOTE/PROMOTE/SEPT.REMOVE.
    fn check_blocked_tracked(&self, td: &Td, e: SeptEntry, bepoch: u64) -> Result<(), TdxError> {
        if !td.op_state.tlb_tracking_required() {
            return Ok(());
        }
        if self.on(rules::BLOCK_BEFORE_REMOVE) && !e.state.is_blocked() {
            return Err(err(TdxStatus::TDX_GPA_RANGE_NOT_BLOCKED, OperandId::RCX));
        }
        if self.on(rules::TLB_TRACKED) && !td.is_tlb_tracked(bepoch) {
            return Err(err(TdxStatus::TDX_TLB_TRACKING_NOT_DONE, OperandId::RCX));
        }
        Ok(())
    }

    fn bepoch_of(&self, hpa: u64) -> u64 {
        self.pamt
            .get(hpa / PAGE_SIZE as u64)
            .map(|e| e.bepoch)
            .unwrap_or(0)
    }

    fn frames_of(level: u8) -> u64 {
        level_size(level) / PAGE_SIZE as u64
    }

    fn td_mut(&mut self, pfn: u64) -> Result<&mut Td, TdxError> {
        self.tds
            .get_mut(&pfn)
            .ok_or(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::TDR))
    }

    fn assign(&mut self, pfn: u64, count: u64, pt: PageType, owner: u64) {
        let size = if count > 1 {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        };
        self.pamt.set_range(
            pfn,
            count,
            PamtEntry {
                pt,
                owner,
                bepoch: 0,
                size,
            },
        );
    }

    // ---- TD lifecycle ---------------------------------------------------------------------------

    /// TDH.MNG.CREATE (9): RCX = TDR page, RDX = HKID.
    pub fn tdh_mng_create(&mut self, tdr: u64, hkid: u16) -> LeafResult {
        let pfn = self.check_free_page(tdr, OperandId::RCX)?;
        if tme::keyid_kind(hkid) != Some(KeyIdKind::Private) {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::RDX));
        }
        if self.on(rules::HKID_FREE) && self.hkids.contains(&hkid) {
            return Err(TdxError::bare(TdxStatus::TDX_HKID_NOT_FREE));
        }
        self.hkids.insert(hkid);
        self.assign(pfn, 1, PageType::PT_TDR, pfn);
        self.tds.insert(
            pfn,
            Td {
                tdr: pfn,
                hkid,
                lifecycle: Lifecycle::TD_HKID_ASSIGNED,
                op_state: OpState::OP_STATE_UNINITIALIZED,
                tdcx: Vec::new(),
                attributes: 0,
                sept: Sept::default(),
                chldcnt: 0,
                epoch: 1,
                refcount: [0, 0],
                fatal: false,
                vcpus: Vec::new(),
                mrtd: [0; 48],
                rtmr: [[0; 48]; 4],
                shared_ept: BTreeMap::new(),
                mrtd_log: Vec::new(),
            },
        );
        Ok(LeafOut::None)
    }

    /// TDH.MNG.KEY.CONFIG (8): RCX = TDR. Programs a random key for the HKID (PCONFIG SET_KEY_RANDOM).
    pub fn tdh_mng_key_config(&mut self, tdr: u64) -> LeafResult {
        let pfn = self.check_tdr(tdr, OperandId::RCX)?;
        let td = self.td(pfn)?;
        if td.lifecycle != Lifecycle::TD_HKID_ASSIGNED {
            return Err(TdxError::bare(TdxStatus::TDX_KEY_STATE_INCORRECT));
        }
        let hkid = td.hkid;
        self.mem.program_random_key(hkid);
        self.td_mut(pfn)?.lifecycle = Lifecycle::TD_KEYS_CONFIGURED;
        Ok(LeafOut::None)
    }

    /// TDH.MNG.ADDCX (1): RCX = TDCX page, RDX = TDR.
    pub fn tdh_mng_addcx(&mut self, tdr: u64, page: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        if td.lifecycle != Lifecycle::TD_KEYS_CONFIGURED {
            return Err(TdxError::bare(TdxStatus::TDX_TD_KEYS_NOT_CONFIGURED));
        }
        if self.on(rules::OP_STATE) && td.op_state != OpState::OP_STATE_UNINITIALIZED {
            return Err(TdxError::bare(TdxStatus::TDX_OP_STATE_INCORRECT));
        }
        if td.tdcx.len() >= TDCS_PAGES {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::RDX));
        }
        let pfn = self.check_free_page(page, OperandId::RCX)?;
        self.assign(pfn, 1, PageType::PT_TDCX, tpfn);
        let td = self.td_mut(tpfn)?;
        td.tdcx.push(pfn);
        td.chldcnt += 1;
        Ok(LeafOut::None)
    }

    /// TDH.MNG.INIT (21): RCX = TDR, RDX = TD_PARAMS (here: ATTRIBUTES only). Starts MRTD.
    pub fn tdh_mng_init(&mut self, tdr: u64, attributes: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RCX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MNG_INIT)?;
        let td = self.td_mut(tpfn)?;
        td.attributes = attributes;
        td.op_state = OpState::OP_STATE_INITIALIZED;
        td.mrtd_log.clear();
        Ok(LeafOut::None)
    }

    /// TDH.VP.CREATE (10): RCX = TDVPR page, RDX = TDR.
    pub fn tdh_vp_create(&mut self, tdr: u64, tdvpr: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_VP_CREATE)?;
        let pfn = self.check_free_page(tdvpr, OperandId::RCX)?;
        self.assign(pfn, 1, PageType::PT_TDVPR, tpfn);
        let td = self.td_mut(tpfn)?;
        td.vcpus.push(pfn);
        td.chldcnt += 1;
        let epoch = td.epoch;
        self.vcpus.insert(
            pfn,
            Vcpu {
                tdvpr: pfn,
                tdr: tpfn,
                state: VcpuState::Created,
                running: false,
                epoch,
                tlb: BTreeMap::new(),
                pending: None,
                epf_count: 0,
                epf_gpas: Vec::new(),
                zero_progress_runs: 0,
                retired: 0,
                single_steps: 0,
                entry_retired: 0,
            },
        );
        Ok(LeafOut::None)
    }

    fn check_tdvpr(&self, tdvpr: u64) -> Result<u64, TdxError> {
        let pfn = self.check_hpa(tdvpr, OperandId::RCX)?;
        let ok = self.pamt.get(pfn).map(|e| e.pt) == Some(PageType::PT_TDVPR);
        if !ok || !self.vcpus.contains_key(&pfn) {
            return Err(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::RCX));
        }
        Ok(pfn)
    }

    /// TDH.VP.INIT (22): RCX = TDVPR.
    pub fn tdh_vp_init(&mut self, tdvpr: u64) -> LeafResult {
        let vpfn = self.check_tdvpr(tdvpr)?;
        let tpfn = self.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_VP_INIT)?;
        let v = self
            .vcpus
            .get_mut(&vpfn)
            .ok_or(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::RCX))?;
        if v.state != VcpuState::Created {
            return Err(TdxError::bare(TdxStatus::TDX_VCPU_STATE_INCORRECT));
        }
        v.state = VcpuState::Initialized;
        Ok(LeafOut::None)
    }

    /// TDH.MR.FINALIZE (17): RCX = TDR. MRTD = SHA-384 of the logged blocks; op-state → RUNNABLE.
    pub fn tdh_mr_finalize(&mut self, tdr: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RCX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MR_FINALIZE)?;
        if td.vcpus.is_empty() {
            return Err(TdxError::bare(TdxStatus::TDX_NO_VCPUS));
        }
        let td = self.td_mut(tpfn)?;
        let d = Sha384::digest(&td.mrtd_log);
        td.mrtd.copy_from_slice(&d);
        td.op_state = OpState::OP_STATE_RUNNABLE;
        Ok(LeafOut::None)
    }

    /// TDH.MNG.VPFLUSHDONE (19): RCX = TDR. Every vCPU must be off its LP (TDX_FLUSHVP_NOT_DONE).
    pub fn tdh_mng_vpflushdone(&mut self, tdr: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RCX)?;
        let td = self.td(tpfn)?;
        if td.lifecycle != Lifecycle::TD_KEYS_CONFIGURED {
            return Err(TdxError::bare(TdxStatus::TDX_LIFECYCLE_STATE_INCORRECT));
        }
        if td
            .vcpus
            .iter()
            .any(|v| self.vcpus.get(v).is_some_and(|v| v.running))
        {
            return Err(TdxError::bare(TdxStatus::TDX_FLUSHVP_NOT_DONE));
        }
        self.td_mut(tpfn)?.lifecycle = Lifecycle::TD_BLOCKED;
        Ok(LeafOut::None)
    }

    /// TDH.MNG.KEY.FREEID (20): RCX = TDR. Frees the HKID; the TD enters TEARDOWN.
    pub fn tdh_mng_key_freeid(&mut self, tdr: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RCX)?;
        let td = self.td(tpfn)?;
        if td.lifecycle != Lifecycle::TD_BLOCKED {
            return Err(TdxError::bare(TdxStatus::TDX_LIFECYCLE_STATE_INCORRECT));
        }
        let hkid = td.hkid;
        self.mem.clear_key(hkid);
        self.hkids.remove(&hkid);
        self.td_mut(tpfn)?.lifecycle = Lifecycle::TD_TEARDOWN;
        Ok(LeafOut::None)
    }

    /// TDH.PHYMEM.PAGE.RECLAIM (28): RCX = page. Returns its type and owner; the page becomes PT_NDA.
    pub fn tdh_phymem_page_reclaim(&mut self, page: u64) -> LeafResult {
        let pfn = self.check_hpa(page, OperandId::RCX)?;
        let e = self.pamt.get(pfn).copied().unwrap_or_default();
        if e.pt == PageType::PT_NDA || e.pt == PageType::PT_RSVD {
            return Err(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::RCX));
        }
        let count = if e.size == PageSize::Size2M { 512 } else { 1 };
        if e.size == PageSize::Size2M && pfn % 512 != 0 {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX));
        }
        let owner = self.tds.get(&e.owner);
        let teardown = owner.is_none_or(|t| t.lifecycle == Lifecycle::TD_TEARDOWN);
        if self.on(rules::RECLAIM_TEARDOWN) && !teardown {
            return Err(TdxError::bare(TdxStatus::TDX_LIFECYCLE_STATE_INCORRECT));
        }
        if e.pt == PageType::PT_TDR {
            let children = owner.map(|t| t.chldcnt).unwrap_or(0);
            if self.on(rules::TDR_CHILDREN) && children != 0 {
                return Err(TdxError::bare(TdxStatus::TDX_TD_ASSOCIATED_PAGES_EXIST));
            }
            if let Some(td) = self.tds.remove(&pfn) {
                for v in td.vcpus {
                    self.vcpus.remove(&v);
                }
                if td.lifecycle != Lifecycle::TD_TEARDOWN {
                    self.hkids.remove(&td.hkid);
                }
            }
        } else {
            if let Some(td) = self.tds.get_mut(&e.owner) {
                td.chldcnt = td.chldcnt.saturating_sub(count);
                if e.pt == PageType::PT_TDVPR {
                    td.vcpus.retain(|v| *v != pfn);
                }
                if e.pt == PageType::PT_TDCX {
                    td.tdcx.retain(|v| *v != pfn);
                }
            }
            if e.pt == PageType::PT_TDVPR {
                self.vcpus.remove(&pfn);
            }
        }
        self.pamt.set_range(pfn, count, PamtEntry::default());
        Ok(LeafOut::Reclaimed(e.pt, e.owner * PAGE_SIZE as u64))
    }

    /// TDH.PHYMEM.PAGE.WBINVD (41): RCX = page (with the HKID it was used under). Writes back and
    /// invalidates its cache lines; the model has no cache, so only the operand checks remain.
    pub fn tdh_phymem_page_wbinvd(&mut self, page: u64) -> LeafResult {
        let (pa, keyid) = tme::split_pa(page);
        if pa % PAGE_SIZE as u64 != 0 || tme::keyid_kind(keyid) != Some(KeyIdKind::Private) {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX));
        }
        if self.pamt.get(pa / PAGE_SIZE as u64).is_none() {
            return Err(err(TdxStatus::TDX_OPERAND_ADDR_RANGE_ERROR, OperandId::RCX));
        }
        Ok(LeafOut::None)
    }

    // ---- memory leaves --------------------------------------------------------------------------

    /// TDH.MEM.SEPT.ADD (3): RCX = GPA | level (1..=3), RDX = TDR, R8 = new SEPT page.
    pub fn tdh_mem_sept_add(&mut self, tdr: u64, gpa: u64, level: u8, page: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_SEPT_ADD)?;
        Self::check_gpa(gpa, level, 1, ROOT_LEVEL)?;
        let e = self.walk(td, gpa, level)?;
        self.state_allowed(e.state == SeptState::FREE)?;
        let pfn = self.check_free_page(page, OperandId::R8)?;
        self.assign(pfn, 1, PageType::PT_EPT, tpfn);
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            level,
            gpa,
            SeptEntry {
                state: SeptState::NL_MAPPED,
                hpa: pfn * PAGE_SIZE as u64,
            },
        );
        td.chldcnt += 1;
        Ok(LeafOut::None)
    }

    /// TDH.MEM.PAGE.ADD (2): RCX = GPA (4 KiB), RDX = TDR, R8 = target page, R9 = source page (a
    /// shared HPA). Copies the source into the TD page under the TD's key and extends MRTD with the
    /// 128-byte `"MEM.PAGE.ADD"` block (tdx.md §4.1).
    pub fn tdh_mem_page_add(&mut self, tdr: u64, gpa: u64, page: u64, source: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_PAGE_ADD)?;
        Self::check_gpa(gpa, 0, 0, 0)?;
        let e = self.walk(td, gpa, 0)?;
        self.state_allowed(e.state == SeptState::FREE)?;
        let (src_pa, src_keyid) = tme::split_pa(source);
        let private_src = tme::keyid_kind(src_keyid) == Some(KeyIdKind::Private);
        if src_pa % PAGE_SIZE as u64 != 0
            || tme::keyid_kind(src_keyid).is_none()
            || (private_src && self.on(rules::KEYID_PRIVATE_SEAM_ONLY))
        {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::R9));
        }
        if self.pamt.get(src_pa / PAGE_SIZE as u64).is_none() {
            return Err(err(TdxStatus::TDX_OPERAND_ADDR_RANGE_ERROR, OperandId::R9));
        }
        let pfn = self.check_free_page(page, OperandId::R8)?;
        let hkid = td.hkid;
        // The module reads the source through its KeyID, as software would (owned lines read as 0).
        let mut buf = vec![0u8; PAGE_SIZE];
        let mut seam_rules = self.rules.clone();
        if private_src {
            seam_rules =
                RuleSet::with_disabled(rules::CATALOGUE, &[rules::KEYID_PRIVATE_SEAM_ONLY])
                    .unwrap_or_default();
        }
        if self
            .mem
            .host_read(src_pa, src_keyid, &mut buf, &seam_rules)
            .is_err()
        {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::R9));
        }
        let mut page_buf = [0u8; PAGE_SIZE];
        page_buf.copy_from_slice(&buf);
        self.mem
            .td_write_page(pfn * PAGE_SIZE as u64, hkid, &page_buf);
        self.assign(pfn, 1, PageType::PT_REG, tpfn);
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            0,
            gpa,
            SeptEntry {
                state: SeptState::MAPPED,
                hpa: pfn * PAGE_SIZE as u64,
            },
        );
        td.chldcnt += 1;
        let mut block = [0u8; 128];
        block[..12].copy_from_slice(b"MEM.PAGE.ADD");
        block[16..24].copy_from_slice(&gpa.to_le_bytes());
        td.mrtd_log.extend_from_slice(&block);
        Ok(LeafOut::None)
    }

    /// TDH.MR.EXTEND (16): RCX = GPA (256-byte aligned, MAPPED), RDX = TDR. Extends MRTD with the
    /// `"MR.EXTEND"` block and the 256 bytes at that GPA.
    pub fn tdh_mr_extend(&mut self, tdr: u64, gpa: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MR_EXTEND)?;
        if gpa % 256 != 0 || gpa >> GPAW != 0 || gpa & SHARED_BIT != 0 {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::RCX));
        }
        let Some((lvl, leaf)) = td.sept.leaf(gpa) else {
            return Err(err(TdxStatus::TDX_EPT_ENTRY_NOT_PRESENT, OperandId::RCX));
        };
        if leaf.state != SeptState::MAPPED {
            return Err(err(TdxStatus::TDX_EPT_ENTRY_NOT_PRESENT, OperandId::RCX));
        }
        let hpa = leaf.hpa + (gpa & (level_size(lvl) - 1));
        let hkid = td.hkid;
        let rules = self.rules.clone();
        let mut chunk = [0u8; 256];
        for (i, c) in chunk.chunks_exact_mut(64).enumerate() {
            let mut line = [0u8; 64];
            if self
                .mem
                .td_read_line(hpa + (i * 64) as u64, hkid, &mut line, &rules, true)
                .is_err()
            {
                return Err(TdxError::bare(TdxStatus::TDX_NON_RECOVERABLE_TD));
            }
            c.copy_from_slice(&line);
        }
        let td = self.td_mut(tpfn)?;
        let mut block = [0u8; 128];
        block[..9].copy_from_slice(b"MR.EXTEND");
        block[16..24].copy_from_slice(&gpa.to_le_bytes());
        td.mrtd_log.extend_from_slice(&block);
        td.mrtd_log.extend_from_slice(&chunk);
        Ok(LeafOut::None)
    }

    /// TDH.MEM.PAGE.AUG (6): RCX = GPA | level (0 or 1), RDX = TDR, R8 = page. FREE → PENDING.
    pub fn tdh_mem_page_aug(&mut self, tdr: u64, gpa: u64, level: u8, page: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_PAGE_AUG)?;
        Self::check_gpa(gpa, level, 0, 1)?;
        let e = self.walk(td, gpa, level)?;
        self.state_allowed(matches!(e.state, SeptState::FREE | SeptState::REMOVED))?;
        let pfn = self.check_free_page(page, OperandId::R8)?;
        let count = Self::frames_of(level);
        if level == 1 {
            if pfn % 512 != 0 {
                return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::R8));
            }
            let all_free = (pfn..pfn + count).all(|p| {
                self.pamt
                    .get(p)
                    .is_some_and(|e| e.pt == PageType::PT_NDA || !self.on(rules::PAMT_PAGE_FREE))
            });
            if !all_free {
                return Err(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::R8));
            }
        }
        self.assign(pfn, count, PageType::PT_REG, tpfn);
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            level,
            gpa,
            SeptEntry {
                state: SeptState::PENDING,
                hpa: pfn * PAGE_SIZE as u64,
            },
        );
        td.chldcnt += count;
        Ok(LeafOut::None)
    }

    /// TDH.MEM.RANGE.BLOCK (7): RCX = GPA | level, RDX = TDR. Records the TD epoch in the page's BEPOCH.
    pub fn tdh_mem_range_block(&mut self, tdr: u64, gpa: u64, level: u8) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_RANGE_BLOCK)?;
        Self::check_gpa(gpa, level, 0, ROOT_LEVEL - 1)?;
        let e = self.walk(td, gpa, level)?;
        if e.state.is_blocked() && self.on(rules::SEPT_STATE) {
            return Err(err(
                TdxStatus::TDX_GPA_RANGE_ALREADY_BLOCKED,
                OperandId::RCX,
            ));
        }
        let next = match e.state {
            SeptState::NL_MAPPED => SeptState::NL_BLOCKED,
            SeptState::MAPPED | SeptState::BLOCKEDW => SeptState::BLOCKED,
            SeptState::PENDING | SeptState::PENDING_BLOCKEDW => SeptState::PENDING_BLOCKED,
            s if !self.on(rules::SEPT_STATE) && s.is_blocked() => s,
            _ => {
                return Err(err(
                    TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                    OperandId::RCX,
                ));
            }
        };
        let epoch = td.epoch;
        let pfn = e.hpa / PAGE_SIZE as u64;
        self.pamt.set_bepoch(pfn, epoch);
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            level,
            gpa,
            SeptEntry {
                state: next,
                hpa: e.hpa,
            },
        );
        Ok(LeafOut::None)
    }

    /// TDH.MEM.RANGE.UNBLOCK (39): RCX = GPA | level, RDX = TDR. *BLOCKED → MAPPED/PENDING/NL_MAPPED,
    /// once TLB tracking is done (TDX_TLB_TRACKING_NOT_DONE(SEPT_TREE)).
    pub fn tdh_mem_range_unblock(&mut self, tdr: u64, gpa: u64, level: u8) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_RANGE_UNBLOCK)?;
        Self::check_gpa(gpa, level, 0, ROOT_LEVEL - 1)?;
        let e = self.walk(td, gpa, level)?;
        let next = match e.state {
            SeptState::NL_BLOCKED => SeptState::NL_MAPPED,
            SeptState::BLOCKED => SeptState::MAPPED,
            SeptState::PENDING_BLOCKED => SeptState::PENDING,
            _ => {
                return Err(err(
                    TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                    OperandId::RCX,
                ))
            }
        };
        if td.op_state.tlb_tracking_required()
            && self.on(rules::TLB_TRACKED)
            && !td.is_tlb_tracked(self.bepoch_of(e.hpa))
        {
            return Err(err(
                TdxStatus::TDX_TLB_TRACKING_NOT_DONE,
                OperandId::SEPT_TREE,
            ));
        }
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            level,
            gpa,
            SeptEntry {
                state: next,
                hpa: e.hpa,
            },
        );
        Ok(LeafOut::None)
    }

    /// TDH.MEM.TRACK (38): RCX = TDR. Increments the TD epoch once no vCPU runs in the previous one.
    pub fn tdh_mem_track(&mut self, tdr: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RCX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_TRACK)?;
        if td.refcount[(1 - (td.epoch & 1)) as usize] != 0 {
            return Err(TdxError::bare(TdxStatus::TDX_PREVIOUS_TLB_EPOCH_BUSY));
        }
        self.td_mut(tpfn)?.epoch += 1;
        Ok(LeafOut::None)
    }

    /// TDH.MEM.PAGE.REMOVE (29): RCX = GPA | level (0 or 1), RDX = TDR. The leaf becomes FREE, the page
    /// PT_NDA; returns its HPA. While the TD may run the entry must be *BLOCKED and TLB-tracked.
    pub fn tdh_mem_page_remove(&mut self, tdr: u64, gpa: u64, level: u8) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_PAGE_REMOVE)?;
        Self::check_gpa(gpa, level, 0, 1)?;
        let e = self.walk(td, gpa, level)?;
        if !e.state.is_leaf() {
            return Err(err(
                TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                OperandId::RCX,
            ));
        }
        self.check_blocked_tracked(td, e, self.bepoch_of(e.hpa))?;
        let count = Self::frames_of(level);
        let pfn = e.hpa / PAGE_SIZE as u64;
        self.pamt.set_range(pfn, count, PamtEntry::default());
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            level,
            gpa,
            SeptEntry {
                state: SeptState::FREE,
                hpa: 0,
            },
        );
        td.chldcnt = td.chldcnt.saturating_sub(count);
        Ok(LeafOut::Hpa(e.hpa))
    }

    /// TDH.MEM.PAGE.RELOCATE (5): RCX = GPA (4 KiB), RDX = TDR, R8 = new page. Moves the content
    /// (re-encrypted at the new address) to a PT_NDA page; the old page becomes PT_NDA.
    pub fn tdh_mem_page_relocate(&mut self, tdr: u64, gpa: u64, page: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_PAGE_RELOCATE)?;
        Self::check_gpa(gpa, 0, 0, 0)?;
        let e = self.walk(td, gpa, 0)?;
        if !e.state.is_leaf() {
            return Err(err(
                TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                OperandId::RCX,
            ));
        }
        let new = self.check_free_page(page, OperandId::R8)?;
        if new * PAGE_SIZE as u64 == e.hpa {
            return Err(err(TdxStatus::TDX_OPERAND_INVALID, OperandId::R8));
        }
        self.check_blocked_tracked(td, e, self.bepoch_of(e.hpa))?;
        let hkid = td.hkid;
        let old = e.hpa / PAGE_SIZE as u64;
        // Move the content line by line under the TD key. A poisoned line stays poisoned: it is
        // written as zeros through KeyID 0 (owner bit clear), so nothing of it reaches anyone.
        let mut lines = Vec::with_capacity(tme::LINES_PER_PAGE);
        let rules = self.rules.clone();
        for i in 0..tme::LINES_PER_PAGE {
            let mut l = [0u8; 64];
            let ok = self
                .mem
                .td_read_line(e.hpa + (i * 64) as u64, hkid, &mut l, &rules, true)
                .is_ok();
            lines.push((l, ok));
        }
        for (i, (l, ok)) in lines.iter().enumerate() {
            let dst = new * PAGE_SIZE as u64 + (i * 64) as u64;
            if *ok {
                self.mem.td_write_line(dst, hkid, l);
            } else {
                let _ = self.mem.host_write(dst, 0, &[0u8; 64], &RuleSet::all());
            }
        }
        let bepoch = self.bepoch_of(e.hpa);
        self.pamt.set_range(old, 1, PamtEntry::default());
        self.assign(new, 1, PageType::PT_REG, tpfn);
        self.pamt.set_bepoch(new, bepoch);
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            0,
            gpa,
            SeptEntry {
                state: e.state,
                hpa: new * PAGE_SIZE as u64,
            },
        );
        Ok(LeafOut::Hpa(e.hpa))
    }

    /// TDH.MEM.PAGE.DEMOTE (15): RCX = GPA | level 1, RDX = TDR, R8 = new SEPT page. Splits a 2 MiB leaf
    /// into 512 4 KiB leaves in the same (unblocked) state.
    pub fn tdh_mem_page_demote(&mut self, tdr: u64, gpa: u64, level: u8, page: u64) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_PAGE_DEMOTE)?;
        Self::check_gpa(gpa, level, 1, 1)?;
        let e = self.walk(td, gpa, level)?;
        let child = match e.state {
            SeptState::MAPPED | SeptState::BLOCKED => SeptState::MAPPED,
            SeptState::PENDING | SeptState::PENDING_BLOCKED => SeptState::PENDING,
            _ => {
                return Err(err(
                    TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                    OperandId::RCX,
                ))
            }
        };
        self.check_blocked_tracked(td, e, self.bepoch_of(e.hpa))?;
        let sp = self.check_free_page(page, OperandId::R8)?;
        let base = e.hpa / PAGE_SIZE as u64;
        self.assign(sp, 1, PageType::PT_EPT, tpfn);
        for p in base..base + 512 {
            self.assign(p, 1, PageType::PT_REG, tpfn);
        }
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            1,
            gpa,
            SeptEntry {
                state: SeptState::NL_MAPPED,
                hpa: sp * PAGE_SIZE as u64,
            },
        );
        for i in 0..512u64 {
            td.sept.set(
                0,
                gpa + i * PAGE_SIZE as u64,
                SeptEntry {
                    state: child,
                    hpa: e.hpa + i * PAGE_SIZE as u64,
                },
            );
        }
        td.chldcnt += 1;
        Ok(LeafOut::None)
    }

    /// TDH.MEM.PAGE.PROMOTE (23): RCX = GPA | level 1, RDX = TDR. Merges 512 contiguous 4 KiB leaves of
    /// one state under a blocked, tracked NL entry into a 2 MiB leaf; returns the freed SEPT page.
    pub fn tdh_mem_page_promote(&mut self, tdr: u64, gpa: u64, level: u8) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_PAGE_PROMOTE)?;
        Self::check_gpa(gpa, level, 1, 1)?;
        let e = self.walk(td, gpa, level)?;
        self.state_allowed(e.state.is_non_leaf())?;
        if !e.state.is_non_leaf() {
            return Err(err(
                TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                OperandId::RCX,
            ));
        }
        self.check_blocked_tracked(td, e, self.bepoch_of(e.hpa))?;
        let first = td.sept.entry(0, gpa);
        let ok_first = matches!(first.state, SeptState::MAPPED | SeptState::PENDING)
            && (first.hpa / PAGE_SIZE as u64) % 512 == 0;
        let all = ok_first
            && (0..512u64).all(|i| {
                let c = td.sept.entry(0, gpa + i * PAGE_SIZE as u64);
                c.state == first.state && c.hpa == first.hpa + i * PAGE_SIZE as u64
            });
        if !all {
            return Err(err(
                TdxStatus::TDX_EPT_INVALID_PROMOTE_CONDITIONS,
                OperandId::RCX,
            ));
        }
        let base = first.hpa / PAGE_SIZE as u64;
        let sp = e.hpa / PAGE_SIZE as u64;
        self.assign(base, 512, PageType::PT_REG, tpfn);
        self.pamt.set_range(sp, 1, PamtEntry::default());
        let td = self.td_mut(tpfn)?;
        for i in 0..512u64 {
            td.sept.set(
                0,
                gpa + i * PAGE_SIZE as u64,
                SeptEntry {
                    state: SeptState::FREE,
                    hpa: 0,
                },
            );
        }
        td.sept.set(
            1,
            gpa,
            SeptEntry {
                state: first.state,
                hpa: first.hpa,
            },
        );
        td.chldcnt = td.chldcnt.saturating_sub(1);
        Ok(LeafOut::Hpa(e.hpa))
    }

    /// TDH.MEM.SEPT.REMOVE (30): RCX = GPA | level (1..=2), RDX = TDR. Frees an empty SEPT page.
    pub fn tdh_mem_sept_remove(&mut self, tdr: u64, gpa: u64, level: u8) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        self.check_td_state(td, Leaf::TDH_MEM_SEPT_REMOVE)?;
        Self::check_gpa(gpa, level, 1, ROOT_LEVEL - 1)?;
        let e = self.walk(td, gpa, level)?;
        if !e.state.is_non_leaf() {
            return Err(err(
                TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT,
                OperandId::RCX,
            ));
        }
        self.check_blocked_tracked(td, e, self.bepoch_of(e.hpa))?;
        if td.sept.has_children(level, gpa) {
            return Err(err(TdxStatus::TDX_EPT_PAGE_NOT_FREE, OperandId::RCX));
        }
        self.pamt
            .set_range(e.hpa / PAGE_SIZE as u64, 1, PamtEntry::default());
        let td = self.td_mut(tpfn)?;
        td.sept.set(
            level,
            gpa,
            SeptEntry {
                state: SeptState::FREE,
                hpa: 0,
            },
        );
        td.chldcnt = td.chldcnt.saturating_sub(1);
        Ok(LeafOut::Hpa(e.hpa))
    }

    /// TDH.MEM.SEPT.RD (25): RCX = GPA | level, RDX = TDR.
    pub fn tdh_mem_sept_rd(&mut self, tdr: u64, gpa: u64, level: u8) -> LeafResult {
        let tpfn = self.check_tdr(tdr, OperandId::RDX)?;
        let td = self.td(tpfn)?;
        Self::check_gpa(gpa, level, 0, ROOT_LEVEL)?;
        if td.sept.walk(gpa, level).is_err() {
            return Err(err(TdxStatus::TDX_EPT_WALK_FAILED, OperandId::RCX));
        }
        let e = td.sept.entry(level, gpa);
        Ok(LeafOut::Sept(SeptInfo {
            level,
            state: e.state,
            hpa: e.hpa,
        }))
    }

    // ---- vCPU entry and exit ---------------------------------------------------------------------

    pub(crate) fn vcpu_stop(&mut self, vpfn: u64) {
        let Some(v) = self.vcpus.get_mut(&vpfn) else {
            return;
        };
        if !v.running {
            return;
        }
        v.running = false;
        let slot = (v.epoch & 1) as usize;
        let tdr = v.tdr;
        if let Some(td) = self.tds.get_mut(&tdr) {
            td.refcount[slot] = td.refcount[slot].saturating_sub(1);
        }
    }

    /// The checks of TDH.VP.ENTER (0) before the vCPU runs; RCX = TDVPR.
    pub(crate) fn vp_enter_checks(&self, tdvpr: u64) -> Result<u64, TdxError> {
        let vpfn = self.check_tdvpr(tdvpr)?;
        let v = self
            .vcpus
            .get(&vpfn)
            .ok_or(err(TdxStatus::TDX_PAGE_METADATA_INCORRECT, OperandId::RCX))?;
        let td = self.td(v.tdr)?;
        if td.lifecycle != Lifecycle::TD_KEYS_CONFIGURED {
            return Err(TdxError::bare(TdxStatus::TDX_LIFECYCLE_STATE_INCORRECT));
        }
        if td.fatal {
            return Err(TdxError::bare(TdxStatus::TDX_TD_FATAL));
        }
        if self.on(rules::OP_STATE)
            && !Leaf::TDH_VP_ENTER
                .allowed_op_states()
                .contains(&td.op_state)
        {
            return Err(TdxError::bare(TdxStatus::TDX_OP_STATE_INCORRECT));
        }
        if v.state != VcpuState::Initialized {
            return Err(TdxError::bare(TdxStatus::TDX_VCPU_STATE_INCORRECT));
        }
        if v.running {
            return Err(err(TdxStatus::TDX_OPERAND_BUSY, OperandId::TDVPR));
        }
        Ok(vpfn)
    }

    /// Associates the vCPU with the LP at the current TD epoch, flushing its TLB if the epoch moved
    /// (`adjust_tlb_tracking_state`).
    pub(crate) fn vcpu_start(&mut self, vpfn: u64) {
        let Some(v) = self.vcpus.get_mut(&vpfn) else {
            return;
        };
        let Some(td) = self.tds.get_mut(&v.tdr) else {
            return;
        };
        if v.epoch != td.epoch {
            v.tlb.clear();
        }
        v.epoch = td.epoch;
        td.refcount[(td.epoch & 1) as usize] += 1;
        v.running = true;
    }

    /// A random 1..=32 (`(lfsr_get_random() & 0x1F) + 1`).
    pub(crate) fn stepping_random(&mut self) -> u64 {
        (self.lfsr.next_u64() & 0x1F) + 1
    }

    /// The measurements a [`ReportProvider`] needs.
    pub fn measurements(&self, tdr: u64) -> Option<TdMeasurements> {
        let td = self.tds.get(&(tdr / PAGE_SIZE as u64))?;
        Some(TdMeasurements {
            attributes: td.attributes,
            mrtd: td.mrtd,
            rtmr: td.rtmr,
        })
    }
}
