//! The Reverse Map Table: the 16-byte entry (snp.md §4.1), the instruction operand layouts (§4.4) and the
//! firmware page states (§4.2).
//!
//! The RMP is stored where hardware stores it, in (simulated) system physical memory from `RMP_BASE` to
//! `RMP_END`: 16 KiB of processor bookkeeping, then one 16-byte entry per 4 KiB page from address 0. So
//! its cost is at most 16 bytes per 4 KiB page covered (and, memory being sparse, only the RMP pages that
//! hold a non-default entry exist).

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::types::{Asid, PageSize, Vmpl};

/// Offset of the first entry after `RMP_BASE` (16 KiB of processor bookkeeping, snp.md §4.1).
pub const RMP_BOOKKEEPING: u64 = 0x4000;

/// VMPL permission mask bits (APM Table 15-36).
pub mod perm {
    /// Read.
    pub const READ: u8 = 1 << 0;
    /// Write.
    pub const WRITE: u8 = 1 << 1;
    /// Execute, user (CPL3).
    pub const EXEC_USER: u8 = 1 << 2;
    /// Execute, supervisor.
    pub const EXEC_SUPER: u8 = 1 << 3;
    /// Supervisor shadow stack.
    pub const SSS: u8 = 1 << 4;
    /// All architectural permissions (bits 7:5 SBZ).
    pub const ALL: u8 = 0x1F;
}

/// RMP entry — snp.md §4.1 (Zen3/Zen4 PPR; ASPFW `rmp_fields_t`, `rmp_quadword2_t`; LNX `rmpentry_raw`).
///
/// Quadword 0: bit 0 ASSIGNED, bit 1 PAGE_SIZE, bit 2 IMMUTABLE, 11:3 SUBPAGE_COUNT, 50:12 `GPA[50:12]`,
/// 60:51 ASID, 61 VMSA, 62 VALIDATED, 63 LOCK. Quadword 1: bytes 0..3 the VMPL0..3 permission masks.
#[repr(C)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
pub struct RmpEntry {
    /// Quadword 0 (flags, GPA, ASID).
    pub q0: U64,
    /// Quadword 1 (VMPL permission masks and TIO fields).
    pub q1: U64,
}
const _: () = assert!(
    size_of::<RmpEntry>() == 16 && offset_of!(RmpEntry, q0) == 0 && offset_of!(RmpEntry, q1) == 8
);

const GPA_MASK: u64 = ((1u64 << 51) - 1) & !0xFFF;
const ASID_SHIFT: u32 = 51;

impl RmpEntry {
    fn bit(&self, n: u32) -> bool {
        self.q0.get() >> n & 1 == 1
    }
    fn set_bit(&mut self, n: u32, v: bool) {
        let q = self.q0.get() & !(1 << n) | (u64::from(v) << n);
        self.q0.set(q);
    }
    /// ASSIGNED (bit 0).
    pub fn assigned(&self) -> bool {
        self.bit(0)
    }
    /// PAGE_SIZE (bit 1).
    pub fn page_size(&self) -> PageSize {
        if self.bit(1) {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        }
    }
    /// IMMUTABLE (bit 2).
    pub fn immutable(&self) -> bool {
        self.bit(2)
    }
    /// GPA (bits 50:12).
    pub fn gpa(&self) -> u64 {
        self.q0.get() & GPA_MASK
    }
    /// ASID (bits 60:51).
    pub fn asid(&self) -> Asid {
        ((self.q0.get() >> ASID_SHIFT) & 0x3FF) as Asid
    }
    /// VMSA (bit 61).
    pub fn vmsa(&self) -> bool {
        self.bit(61)
    }
    /// VALIDATED (bit 62).
    pub fn validated(&self) -> bool {
        self.bit(62)
    }
    /// The permission mask of `vmpl` (quadword 1 byte `vmpl`).
    pub fn perms(&self, vmpl: Vmpl) -> u8 {
        (self.q1.get() >> (8 * u32::from(vmpl & 3))) as u8
    }

    /// Sets ASSIGNED.
    pub fn set_assigned(&mut self, v: bool) {
        self.set_bit(0, v)
    }
    /// Sets PAGE_SIZE.
    pub fn set_page_size(&mut self, s: PageSize) {
        self.set_bit(1, s == PageSize::Size2M)
    }
    /// Sets IMMUTABLE.
    pub fn set_immutable(&mut self, v: bool) {
        self.set_bit(2, v)
    }
    /// Sets the GPA field (bits 50:12 of `gpa`).
    pub fn set_gpa(&mut self, gpa: u64) {
        self.q0.set(self.q0.get() & !GPA_MASK | gpa & GPA_MASK)
    }
    /// Sets the ASID field (10 bits).
    pub fn set_asid(&mut self, asid: Asid) {
        let m = 0x3FFu64 << ASID_SHIFT;
        self.q0
            .set(self.q0.get() & !m | (u64::from(asid) << ASID_SHIFT) & m)
    }
    /// Sets VALIDATED.
    pub fn set_validated(&mut self, v: bool) {
        self.set_bit(62, v)
    }
    /// Sets VMSA.
    pub fn set_vmsa(&mut self, v: bool) {
        self.set_bit(61, v)
    }
    /// Sets the permission mask of `vmpl`.
    pub fn set_perms(&mut self, vmpl: Vmpl, mask: u8) {
        let sh = 8 * u32::from(vmpl & 3);
        self.q1
            .set(self.q1.get() & !(0xFFu64 << sh) | (u64::from(mask) << sh))
    }

    /// The firmware page state of this entry (snp.md §4.2), or `None` for a combination that is no state
    /// (which the model must never produce).
    pub fn state(&self) -> Option<PageState> {
        let (a, v, i, asid) = (
            self.assigned(),
            self.validated(),
            self.immutable(),
            self.asid(),
        );
        Some(match (a, v, asid > 0, i) {
            (false, false, false, false) => PageState::Hypervisor,
            (false, false, false, true) => PageState::HvFixed,
            (true, false, false, true) if self.vmsa() => PageState::Context,
            (true, false, false, true) => PageState::Firmware,
            (true, false, false, false) => PageState::Reclaim,
            (true, false, true, true) => PageState::PreGuest,
            (true, true, true, true) => PageState::PreSwap,
            (true, false, true, false) => PageState::GuestInvalid,
            (true, true, true, false) => PageState::GuestValid,
            _ => return None,
        })
    }
}

/// Firmware page states — snp.md §4.2 (ASPFW `snp_page_state_t`; APM Table 15-35). The Firmware-IOMMU and
/// Metadata states differ from Firmware only by a GPA-field tag and are folded into [`PageState::Firmware`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
    /// Assigned 0.
    Hypervisor,
    /// Assigned 0, Immutable 1.
    HvFixed,
    /// Assigned 1, ASID 0, Immutable 1.
    Firmware,
    /// Assigned 1, ASID 0, Immutable 0.
    Reclaim,
    /// Guest context page: Firmware with VMSA 1.
    Context,
    /// Assigned 1, ASID > 0, Immutable 1, Validated 0.
    PreGuest,
    /// Assigned 1, ASID > 0, Immutable 1, Validated 1.
    PreSwap,
    /// Assigned 1, ASID > 0, Validated 0.
    GuestInvalid,
    /// Assigned 1, ASID > 0, Validated 1.
    GuestValid,
}

impl PageState {
    /// The state's name in snp.md §4.2.
    pub fn name(self) -> &'static str {
        match self {
            PageState::Hypervisor => "Hypervisor",
            PageState::HvFixed => "HV-Fixed",
            PageState::Firmware => "Firmware",
            PageState::Reclaim => "Reclaim",
            PageState::Context => "Context",
            PageState::PreGuest => "Pre-Guest",
            PageState::PreSwap => "Pre-Swap",
            PageState::GuestInvalid => "Guest-Invalid",
            PageState::GuestValid => "Guest-Valid",
        }
    }
}

/// RMPUPDATE operand (RCX → 16 bytes) — snp.md §4.4; the same layout is RMPREAD's output on Zen 5.
#[repr(C)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
pub struct RmpUpdateInput {
    /// GPA.
    pub gpa: U64,
    /// ASSIGNED.
    pub assigned: u8,
    /// PAGESIZE (0 = 4K, 1 = 2M; RMPREAD: bit 1 hpage_region_status).
    pub pagesize: u8,
    /// IMMUTABLE.
    pub immutable: u8,
    /// Reserved.
    pub _rsvd_0x0b: u8,
    /// ASID.
    pub asid: U32,
}
const _: () = assert!(
    size_of::<RmpUpdateInput>() == 16
        && offset_of!(RmpUpdateInput, gpa) == 0
        && offset_of!(RmpUpdateInput, assigned) == 8
        && offset_of!(RmpUpdateInput, pagesize) == 9
        && offset_of!(RmpUpdateInput, immutable) == 10
        && offset_of!(RmpUpdateInput, _rsvd_0x0b) == 11
        && offset_of!(RmpUpdateInput, asid) == 12
);

/// RMP instruction return codes (RAX) — snp.md §4.4.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RmpStatus {
    /// 0.
    SUCCESS,
    /// 1.
    FAIL_INPUT,
    /// 2.
    FAIL_PERMISSION,
    /// 3.
    FAIL_INUSE,
    /// 4 (RMPUPDATE: 4K/2M overlap).
    FAIL_OVERLAP,
    /// 6.
    FAIL_SIZEMISMATCH,
}

impl RmpStatus {
    /// The RAX value.
    pub fn code(self) -> u64 {
        match self {
            RmpStatus::SUCCESS => 0,
            RmpStatus::FAIL_INPUT => 1,
            RmpStatus::FAIL_PERMISSION => 2,
            RmpStatus::FAIL_INUSE => 3,
            RmpStatus::FAIL_OVERLAP => 4,
            RmpStatus::FAIL_SIZEMISMATCH => 6,
        }
    }
    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            RmpStatus::SUCCESS => "ok",
            RmpStatus::FAIL_INPUT => "FAIL_INPUT",
            RmpStatus::FAIL_PERMISSION => "FAIL_PERMISSION",
            RmpStatus::FAIL_INUSE => "FAIL_INUSE",
            RmpStatus::FAIL_OVERLAP => "FAIL_OVERLAP",
            RmpStatus::FAIL_SIZEMISMATCH => "FAIL_SIZEMISMATCH",
        }
    }
}
