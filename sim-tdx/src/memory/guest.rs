//! The guest side: TDH.VP.ENTER and TD exits, guest memory accesses through the private SEPT or the
//! host's shared EPT (split by the shared GPA bit), TDG.MEM.PAGE.ACCEPT, TDG.MR.RTMR.EXTEND,
//! TDG.MR.REPORT and TDG.VP.VMCALL (tdx.md §5.1, §5.3, §5.7, §4.3, §1.2).
//!
//! A guest access is one instruction. It completes (the vCPU retires it), raises a #VE inside the TD
//! (PENDING page, SEPT_VE_DISABLE = 0), or causes a TD exit (EPT violation, machine check); a faulted
//! access is retried when the host enters the vCPU again, which is how zero-stepping is modelled.

use sha2::{Digest, Sha384};
use sim_core::rules::RuleSet;

use super::errors::{OperandId, TdxError, TdxStatus};
use super::rules;
use super::seamcall::{
    PendingAccess, TdxModule, SHARED_BIT, STEPPING_EPF_THRESHOLD, STEPPING_TSC_THRESHOLD,
};
use super::sept::{level_size, SeptState};
use super::tme::{HostAccessError, Poison, LINE_SIZE, PAGE_SIZE};

/// Why a vCPU left the TD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TdExit {
    /// EPT violation on a GPA (exit qualification `pending` = PENDING_EPT_VIOLATION).
    EptViolation {
        /// Faulting GPA.
        gpa: u64,
        /// The page was PENDING (SEPT_VE_DISABLE = 1).
        pending: bool,
    },
    /// TD entry refused by the zero-step filter: a logged GPA still faults.
    StepFilter {
        /// The GPA that would fault again.
        gpa: u64,
    },
    /// A poisoned line was consumed: machine check, the TD is now fatal.
    MachineCheck {
        /// The poisoned line.
        pa: u64,
    },
    /// Interrupt-class exit (timer, IPI) after `retired` instructions.
    Interrupt {
        /// Instructions retired since entry.
        retired: u64,
    },
    /// TDG.VP.VMCALL to the host.
    VmCall {
        /// Sub-function (R11).
        subfn: u64,
    },
    /// A shared-EPT access the hardware refused.
    Fault(HostAccessError),
}

impl std::fmt::Display for TdExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EptViolation { gpa, pending } => write!(
                f,
                "TD exit EPT_VIOLATION gpa=0x{gpa:x}{}",
                if *pending { " PENDING" } else { "" }
            ),
            Self::StepFilter { gpa } => {
                write!(f, "TD exit EPT_VIOLATION gpa=0x{gpa:x} STEPPING_FILTER")
            }
            Self::MachineCheck { pa } => write!(f, "#MC pa=0x{pa:x} -> TD fatal"),
            Self::Interrupt { retired } => write!(f, "TD exit INTERRUPT retired={retired}"),
            Self::VmCall { subfn } => write!(f, "TD exit TDVMCALL r11=0x{subfn:x}"),
            Self::Fault(e) => write!(f, "TD exit {e}"),
        }
    }
}

/// What the guest observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestEvent {
    /// The vCPU is not running: nothing happened.
    NotRunning,
    /// A read completed with these 64 bytes.
    Data([u8; LINE_SIZE]),
    /// A write (or a TDCALL without output) completed.
    Done,
    /// A #VE was injected into the TD (EPT violation on a PENDING page).
    Ve {
        /// GPA.
        gpa: u64,
    },
    /// The vCPU left the TD.
    Exit(TdExit),
    /// A TDCALL returned an error or warning status.
    Status(TdxError),
}

impl std::fmt::Display for GuestEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotRunning => write!(f, "vCPU not running"),
            Self::Data(d) => write!(f, "ok data={}", hex::encode(&d[..16])),
            Self::Done => write!(f, "ok"),
            Self::Ve { gpa } => write!(f, "#VE EPT_VIOLATION gpa=0x{gpa:x}"),
            Self::Exit(e) => write!(f, "{e}"),
            Self::Status(e) => write!(f, "{e}"),
        }
    }
}

/// What TDH.VP.ENTER did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The vCPU runs (after retrying a faulted access, with its outcome).
    Running(Option<GuestEvent>),
    /// The vCPU exited again at once.
    Exited(TdExit),
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Running(None) => write!(f, "running"),
            Self::Running(Some(e)) => write!(f, "running, retried access: {e}"),
            Self::Exited(e) => write!(f, "{e}"),
        }
    }
}

/// The 64-byte line a guest writes for data byte `b`: `b ^ i` at offset `i`.
pub fn line_pattern(b: u8) -> [u8; LINE_SIZE] {
    let mut l = [0u8; LINE_SIZE];
    for (i, x) in l.iter_mut().enumerate() {
        *x = b ^ i as u8;
    }
    l
}

/// Where a private GPA resolves for a running vCPU.
enum Resolve {
    Hpa(u64),
    Pending,
    NotPresent,
}

impl TdxModule {
    fn running_vcpu(&self, tdvpr: u64) -> Option<u64> {
        let vpfn = tdvpr / PAGE_SIZE as u64;
        self.vcpus
            .get(&vpfn)
            .filter(|v| v.running && tdvpr % PAGE_SIZE as u64 == 0)
            .map(|_| vpfn)
    }

    fn resolve(&mut self, vpfn: u64, gpa: u64) -> Resolve {
        let page = gpa & !(PAGE_SIZE as u64 - 1);
        let Some(v) = self.vcpus.get(&vpfn) else {
            return Resolve::NotPresent;
        };
        if let Some(h) = v.tlb.get(&page) {
            return Resolve::Hpa(*h);
        }
        let Some(td) = self.tds.get(&v.tdr) else {
            return Resolve::NotPresent;
        };
        match td.sept.leaf(gpa) {
            Some((lvl, e)) if e.state == SeptState::MAPPED => {
                // A blocked upper level blocks the walk too.
                let blocked_above = (lvl + 1..=super::sept::ROOT_LEVEL)
                    .any(|l| td.sept.entry(l, gpa).state == SeptState::NL_BLOCKED);
                if blocked_above {
                    return Resolve::NotPresent;
                }
                let hpa = e.hpa + (page & (level_size(lvl) - 1));
                if let Some(v) = self.vcpus.get_mut(&vpfn) {
                    v.tlb.insert(page, hpa);
                }
                Resolve::Hpa(hpa)
            }
            Some((_, e)) if e.state == SeptState::PENDING => Resolve::Pending,
            _ => Resolve::NotPresent,
        }
    }

    fn progress(&mut self, vpfn: u64) {
        if let Some(v) = self.vcpus.get_mut(&vpfn) {
            v.retired = v.retired.saturating_add(1);
            v.pending = None;
            v.epf_count = 0;
            v.epf_gpas.clear();
            v.zero_progress_runs = 0;
        }
    }

    /// An EPT-violation TD exit with `vmexit_stepping_filter`'s EPF bookkeeping.
    fn ept_exit(&mut self, vpfn: u64, gpa: u64, write: Option<u8>, pending: bool) -> TdExit {
        let shared = gpa & SHARED_BIT != 0;
        if let Some(v) = self.vcpus.get_mut(&vpfn) {
            if v.retired != v.entry_retired {
                v.epf_count = 0;
                v.epf_gpas.clear();
                v.zero_progress_runs = 0;
            }
            v.zero_progress_runs = v.zero_progress_runs.saturating_add(1);
            if v.epf_count < STEPPING_EPF_THRESHOLD {
                v.epf_count += 1;
            } else if !shared && v.epf_gpas.len() < 8 && !v.epf_gpas.contains(&gpa) {
                v.epf_gpas.push(gpa);
            }
            v.pending = Some(PendingAccess { gpa, write });
        }
        self.vcpu_stop(vpfn);
        TdExit::EptViolation { gpa, pending }
    }

    fn machine_check(&mut self, vpfn: u64, p: Poison) -> TdExit {
        let tdr = self.vcpus.get(&vpfn).map(|v| v.tdr);
        if let Some(td) = tdr.and_then(|t| self.tds.get_mut(&t)) {
            td.fatal = true;
        }
        self.vcpu_stop(vpfn);
        TdExit::MachineCheck { pa: p.pa }
    }

    fn hkid_of(&self, vpfn: u64) -> u16 {
        self.vcpus
            .get(&vpfn)
            .and_then(|v| self.tds.get(&v.tdr))
            .map(|t| t.hkid)
            .unwrap_or(0)
    }

    /// One guest load or store of a 64-byte line at `gpa`.
    fn access(&mut self, vpfn: u64, gpa: u64, write: Option<u8>) -> GuestEvent {
        let gpa = gpa & !(LINE_SIZE as u64 - 1);
        let tdr = self.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
        if gpa & SHARED_BIT != 0 {
            let page = gpa & !(PAGE_SIZE as u64 - 1) & !SHARED_BIT;
            let map = self
                .tds
                .get(&tdr)
                .and_then(|t| t.shared_ept.get(&page).copied());
            let Some(hpa) = map else {
                return GuestEvent::Exit(self.ept_exit(vpfn, gpa, write, false));
            };
            let pa = hpa + (gpa & (PAGE_SIZE as u64 - 1));
            let (pa, keyid) = super::tme::split_pa(pa);
            let rules = self.rules.clone();
            let r = match write {
                Some(b) => self
                    .mem
                    .host_write(pa, keyid, &line_pattern(b), &rules)
                    .map(|_| None),
                None => {
                    let mut l = [0u8; LINE_SIZE];
                    self.mem
                        .host_read(pa, keyid, &mut l, &rules)
                        .map(|_| Some(l))
                }
            };
            return match r {
                Ok(d) => {
                    self.progress(vpfn);
                    d.map_or(GuestEvent::Done, GuestEvent::Data)
                }
                Err(e) => {
                    self.vcpu_stop(vpfn);
                    GuestEvent::Exit(TdExit::Fault(e))
                }
            };
        }
        let hpa = match self.resolve(vpfn, gpa) {
            Resolve::Hpa(h) => h + (gpa & (PAGE_SIZE as u64 - 1)),
            Resolve::Pending => {
                let ve_disable = self.tds.get(&tdr).is_some_and(|t| t.sept_ve_disable());
                if ve_disable && self.rules.on(rules::SEPT_VE_DISABLE) {
                    return GuestEvent::Exit(self.ept_exit(vpfn, gpa, write, true));
                }
                return GuestEvent::Ve { gpa };
            }
            Resolve::NotPresent => return GuestEvent::Exit(self.ept_exit(vpfn, gpa, write, false)),
        };
        let hkid = self.hkid_of(vpfn);
        match write {
            Some(b) => {
                self.mem.td_write_line(hpa, hkid, &line_pattern(b));
                self.progress(vpfn);
                GuestEvent::Done
            }
            None => {
                let mut l = [0u8; LINE_SIZE];
                let rules = self.rules.clone();
                match self.mem.td_read_line(hpa, hkid, &mut l, &rules, true) {
                    Ok(()) => {
                        self.progress(vpfn);
                        GuestEvent::Data(l)
                    }
                    Err(p) if rules.on(rules::MC_TD_FATAL) => {
                        GuestEvent::Exit(self.machine_check(vpfn, p))
                    }
                    Err(_) => {
                        let _ = self.mem.td_read_line(hpa, hkid, &mut l, &rules, false);
                        self.progress(vpfn);
                        GuestEvent::Data(l)
                    }
                }
            }
        }
    }

    /// The guest loads the 64-byte line at `gpa` (private or shared, by the shared bit).
    pub fn guest_read(&mut self, tdvpr: u64, gpa: u64) -> GuestEvent {
        match self.running_vcpu(tdvpr) {
            Some(v) => self.access(v, gpa, None),
            None => GuestEvent::NotRunning,
        }
    }

    /// The guest stores [`line_pattern`]`(byte)` to the line at `gpa`.
    pub fn guest_write(&mut self, tdvpr: u64, gpa: u64, byte: u8) -> GuestEvent {
        match self.running_vcpu(tdvpr) {
            Some(v) => self.access(v, gpa, Some(byte)),
            None => GuestEvent::NotRunning,
        }
    }

    /// The guest stores a whole 4 KiB page at `gpa` (`rep movs` of a page): one translation through
    /// the TLB or the SEPT, then the engine on all 256 blocks at once. A page that is not MAPPED gives
    /// the same #VE or TD exit as a line access.
    pub fn guest_write_page(&mut self, tdvpr: u64, gpa: u64, data: &[u8; PAGE_SIZE]) -> GuestEvent {
        let Some(vpfn) = self.running_vcpu(tdvpr) else {
            return GuestEvent::NotRunning;
        };
        let gpa = gpa & !(PAGE_SIZE as u64 - 1);
        if gpa & SHARED_BIT != 0 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ));
        }
        match self.resolve(vpfn, gpa) {
            Resolve::Hpa(h) => {
                let hkid = self.hkid_of(vpfn);
                self.mem.td_write_page(h, hkid, data);
                self.progress(vpfn);
                GuestEvent::Done
            }
            _ => self.access(vpfn, gpa, Some(0)),
        }
    }

    /// The guest loads a whole 4 KiB page at `gpa` into `out`; every line is checked before it is
    /// consumed (a poisoned line is a machine check).
    pub fn guest_read_page(
        &mut self,
        tdvpr: u64,
        gpa: u64,
        out: &mut [u8; PAGE_SIZE],
    ) -> GuestEvent {
        let Some(vpfn) = self.running_vcpu(tdvpr) else {
            return GuestEvent::NotRunning;
        };
        let gpa = gpa & !(PAGE_SIZE as u64 - 1);
        if gpa & SHARED_BIT != 0 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ));
        }
        match self.resolve(vpfn, gpa) {
            Resolve::Hpa(h) => {
                let hkid = self.hkid_of(vpfn);
                let rules = std::mem::take(&mut self.rules);
                let r = self.mem.td_read_page(h, hkid, out, &rules);
                self.rules = rules;
                match r {
                    Ok(()) => {
                        self.progress(vpfn);
                        GuestEvent::Done
                    }
                    Err(p) if self.rules.on(rules::MC_TD_FATAL) => {
                        GuestEvent::Exit(self.machine_check(vpfn, p))
                    }
                    Err(_) => {
                        let unchecked = RuleSet::with_disabled(
                            rules::CATALOGUE,
                            &[rules::TME_OWNER_BIT_CHECK, rules::TME_CI_MAC],
                        )
                        .unwrap_or_default();
                        let _ = self.mem.td_read_page(h, hkid, out, &unchecked);
                        self.progress(vpfn);
                        GuestEvent::Done
                    }
                }
            }
            _ => self.access(vpfn, gpa, None),
        }
    }

    fn would_fault(&self, vpfn: u64, gpa: u64) -> bool {
        let Some(v) = self.vcpus.get(&vpfn) else {
            return true;
        };
        let Some(td) = self.tds.get(&v.tdr) else {
            return true;
        };
        !matches!(td.sept.leaf(gpa), Some((_, e)) if e.state == SeptState::MAPPED)
    }

    /// TDH.VP.ENTER (0): RCX = TDVPR. Runs the zero-step filter, associates the vCPU with the current
    /// TD epoch (flushing its TLB if the epoch moved) and retries a faulted access.
    pub fn tdh_vp_enter(&mut self, tdvpr: u64) -> Result<Entry, TdxError> {
        let vpfn = self.vp_enter_checks(tdvpr)?;
        if self.rules.on(rules::STEP_ZERO) {
            let (count, gpas) = self
                .vcpus
                .get(&vpfn)
                .map(|v| (v.epf_count, v.epf_gpas.clone()))
                .unwrap_or_default();
            if count >= STEPPING_EPF_THRESHOLD {
                if let Some(g) = gpas.into_iter().find(|g| self.would_fault(vpfn, *g)) {
                    return Ok(Entry::Exited(TdExit::StepFilter { gpa: g }));
                }
            }
        }
        self.vcpu_start(vpfn);
        let pending = self.vcpus.get_mut(&vpfn).and_then(|v| {
            v.entry_retired = v.retired;
            v.pending
        });
        match pending {
            None => Ok(Entry::Running(None)),
            Some(p) => match self.access(vpfn, p.gpa, p.write) {
                GuestEvent::Exit(e) => Ok(Entry::Exited(e)),
                ev => Ok(Entry::Running(Some(ev))),
            },
        }
    }

    /// TDH.VP.ENTER with the host's APIC timer armed `tsc` cycles after entry (single-stepping when
    /// small). The guest retires one instruction per 64 cycles, at least one; an interrupt exit within
    /// `STEPPING_TSC_THRESHOLD` of entry with little progress makes the module single-step a random
    /// 1..32 more instructions (rule TDX-STEP-SINGLE) before the host regains control.
    pub fn tdh_vp_enter_timer(&mut self, tdvpr: u64, tsc: u64) -> Result<Entry, TdxError> {
        let entry = self.tdh_vp_enter(tdvpr)?;
        let vpfn = tdvpr / PAGE_SIZE as u64;
        if !matches!(entry, Entry::Running(_)) || !self.vcpus.get(&vpfn).is_some_and(|v| v.running)
        {
            return Ok(entry);
        }
        let mut retired = (tsc / 64).max(1);
        if tsc < STEPPING_TSC_THRESHOLD && retired <= 2 && self.rules.on(rules::STEP_SINGLE) {
            retired += self.stepping_random();
        }
        if let Some(v) = self.vcpus.get_mut(&vpfn) {
            v.retired = v.retired.saturating_add(retired);
            v.pending = None;
            v.epf_count = 0;
            v.epf_gpas.clear();
            v.zero_progress_runs = 0;
            v.single_steps = if retired == 1 {
                v.single_steps.saturating_add(1)
            } else {
                0
            };
        }
        self.vcpu_stop(vpfn);
        Ok(Entry::Exited(TdExit::Interrupt { retired }))
    }

    /// The host sends an IPI: a running vCPU exits (what TLB tracking waits for).
    pub fn vp_exit(&mut self, tdvpr: u64) -> Option<TdExit> {
        let vpfn = self.running_vcpu(tdvpr)?;
        self.vcpu_stop(vpfn);
        Some(TdExit::Interrupt { retired: 0 })
    }

    /// TDG.MEM.PAGE.ACCEPT (6): RCX = GPA | level. PENDING → MAPPED with the page zeroed under the TD
    /// key (rule TDX-ACCEPT-ZERO); MAPPED → TDX_PAGE_ALREADY_ACCEPTED; a level that does not match the
    /// mapping → TDX_PAGE_SIZE_MISMATCH; not present or blocked → EPT-violation TD exit.
    pub fn tdg_mem_page_accept(&mut self, tdvpr: u64, gpa: u64, level: u8) -> GuestEvent {
        let Some(vpfn) = self.running_vcpu(tdvpr) else {
            return GuestEvent::NotRunning;
        };
        if level > 1 || gpa % level_size(level) != 0 || gpa & SHARED_BIT != 0 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ));
        }
        let tdr = self.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
        let Some(td) = self.tds.get(&tdr) else {
            return GuestEvent::NotRunning;
        };
        let hkid = td.hkid;
        let leaf = td.sept.leaf(gpa);
        let e = match leaf {
            Some((l, e)) if l == level => e,
            Some((_, _)) => {
                return GuestEvent::Status(TdxError::op(
                    TdxStatus::TDX_PAGE_SIZE_MISMATCH,
                    OperandId::RCX,
                ))
            }
            None => {
                if level == 1 && td.sept.entry(1, gpa).state.is_non_leaf() {
                    return GuestEvent::Status(TdxError::op(
                        TdxStatus::TDX_PAGE_SIZE_MISMATCH,
                        OperandId::RCX,
                    ));
                }
                return GuestEvent::Exit(self.ept_exit(vpfn, gpa, None, false));
            }
        };
        match e.state {
            SeptState::PENDING => {}
            SeptState::MAPPED => {
                return GuestEvent::Status(TdxError::op(
                    TdxStatus::TDX_PAGE_ALREADY_ACCEPTED,
                    OperandId::RCX,
                ))
            }
            _ => return GuestEvent::Exit(self.ept_exit(vpfn, gpa, None, false)),
        }
        if self.rules.on(rules::ACCEPT_ZERO) {
            let zero = [0u8; PAGE_SIZE];
            for i in 0..level_size(level) / PAGE_SIZE as u64 {
                self.mem
                    .td_write_page(e.hpa + i * PAGE_SIZE as u64, hkid, &zero);
            }
        }
        if let Some(td) = self.tds.get_mut(&tdr) {
            td.sept.set(
                level,
                gpa,
                super::sept::SeptEntry {
                    state: SeptState::MAPPED,
                    hpa: e.hpa,
                },
            );
        }
        self.progress(vpfn);
        GuestEvent::Done
    }

    fn read_private(&mut self, vpfn: u64, gpa: u64) -> Result<[u8; LINE_SIZE], GuestEvent> {
        match self.resolve(vpfn, gpa) {
            Resolve::Hpa(h) => {
                let hpa = h + (gpa & (PAGE_SIZE as u64 - 1) & !(LINE_SIZE as u64 - 1));
                let hkid = self.hkid_of(vpfn);
                let rules = self.rules.clone();
                let mut l = [0u8; LINE_SIZE];
                match self.mem.td_read_line(hpa, hkid, &mut l, &rules, true) {
                    Ok(()) => Ok(l),
                    Err(p) if rules.on(rules::MC_TD_FATAL) => {
                        Err(GuestEvent::Exit(self.machine_check(vpfn, p)))
                    }
                    Err(_) => {
                        let _ = self.mem.td_read_line(hpa, hkid, &mut l, &rules, false);
                        Ok(l)
                    }
                }
            }
            _ => Err(GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ))),
        }
    }

    /// TDG.MR.RTMR.EXTEND (2): RCX = GPA of 48 bytes (64-byte aligned, private), RDX = index (< 4).
    /// `RTMR[i] = SHA-384(RTMR[i] ‖ data)` (tdx.md §4.3).
    pub fn tdg_mr_rtmr_extend(&mut self, tdvpr: u64, gpa: u64, index: u64) -> GuestEvent {
        let Some(vpfn) = self.running_vcpu(tdvpr) else {
            return GuestEvent::NotRunning;
        };
        if gpa % 64 != 0 || gpa & SHARED_BIT != 0 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ));
        }
        if index >= 4 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RDX,
            ));
        }
        let data = match self.read_private(vpfn, gpa) {
            Ok(d) => d,
            Err(e) => return e,
        };
        let tdr = self.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
        if let Some(td) = self.tds.get_mut(&tdr) {
            let i = index as usize;
            let mut h = Sha384::new();
            h.update(td.rtmr[i]);
            h.update(&data[..48]);
            td.rtmr[i].copy_from_slice(&h.finalize());
        }
        self.progress(vpfn);
        GuestEvent::Done
    }

    /// TDG.MR.REPORT (4): RCX = TDREPORT GPA (1024-aligned), RDX = REPORTDATA GPA (64-aligned). The
    /// report comes from the installed [`super::seamcall::ReportProvider`] (the attestation side);
    /// without one the leaf is not available (TDX_OPERAND_INVALID(RAX)).
    pub fn tdg_mr_report(&mut self, tdvpr: u64, report_gpa: u64, data_gpa: u64) -> GuestEvent {
        let Some(vpfn) = self.running_vcpu(tdvpr) else {
            return GuestEvent::NotRunning;
        };
        if report_gpa % 1024 != 0 || report_gpa & SHARED_BIT != 0 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ));
        }
        if data_gpa % 64 != 0 || data_gpa & SHARED_BIT != 0 {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RDX,
            ));
        }
        if self.report.is_none() {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RAX,
            ));
        }
        let data = match self.read_private(vpfn, data_gpa) {
            Ok(d) => d,
            Err(e) => return e,
        };
        let tdr = self.vcpus.get(&vpfn).map(|v| v.tdr).unwrap_or(0);
        let Some(m) = self.measurements(tdr * PAGE_SIZE as u64) else {
            return GuestEvent::NotRunning;
        };
        let report = match &self.report {
            Some(p) => p.tdreport(&m, &data),
            None => return GuestEvent::NotRunning,
        };
        let Resolve::Hpa(h) = self.resolve(vpfn, report_gpa) else {
            return GuestEvent::Status(TdxError::op(
                TdxStatus::TDX_OPERAND_INVALID,
                OperandId::RCX,
            ));
        };
        let hpa = h + (report_gpa & (PAGE_SIZE as u64 - 1));
        let hkid = self.hkid_of(vpfn);
        for (i, chunk) in report.chunks_exact(LINE_SIZE).enumerate() {
            let mut l = [0u8; LINE_SIZE];
            l.copy_from_slice(chunk);
            self.mem
                .td_write_line(hpa + (i * LINE_SIZE) as u64, hkid, &l);
        }
        self.progress(vpfn);
        GuestEvent::Done
    }

    /// TDG.VP.VMCALL (0): a TD exit to the host with sub-function R11 (GHCI: 0x10001 MapGPA, 0x10002
    /// GetQuote, ...).
    pub fn tdg_vp_vmcall(&mut self, tdvpr: u64, subfn: u64) -> GuestEvent {
        let Some(vpfn) = self.running_vcpu(tdvpr) else {
            return GuestEvent::NotRunning;
        };
        self.progress(vpfn);
        self.vcpu_stop(vpfn);
        GuestEvent::Exit(TdExit::VmCall { subfn })
    }
}
