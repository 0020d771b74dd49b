//! PAGE_INFO, the structure hashed into the launch digest by SNP_LAUNCH_UPDATE — SEV-SNP ABI 56860
//! §8.17, Table 72 (snp.md §3.2).
//!
//! Bytes 0x64-0x67: ASPFW 1.55.25 lays out 0x64 reserved, 0x65 VMPL1_PERMS, 0x66 VMPL2_PERMS, 0x67
//! VMPL3_PERMS; sev-snp-measure and virtee/sev write them in the reverse order. Both agree when the
//! permissions are zero, the only case measurement tools support; this model follows AMD's firmware.

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Page types of SNP_LAUNCH_UPDATE — SEV-SNP ABI 56860 Table 73.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum PageType {
    /// 1: a normal page, measured by its contents.
    Normal = 1,
    /// 2: a VMSA page, measured by its contents (TSC fields zeroed).
    Vmsa = 2,
    /// 3: a zero page.
    Zero = 3,
    /// 4: an unmeasured page.
    Unmeasured = 4,
    /// 5: the secrets page.
    Secrets = 5,
    /// 6: the CPUID page.
    Cpuid = 6,
}

impl PageType {
    /// Decodes a PAGE_TYPE value.
    pub fn from_u8(v: u8) -> Option<PageType> {
        Some(match v {
            1 => PageType::Normal,
            2 => PageType::Vmsa,
            3 => PageType::Zero,
            4 => PageType::Unmeasured,
            5 => PageType::Secrets,
            6 => PageType::Cpuid,
            _ => return None,
        })
    }

    /// Whether the page's contents are hashed into PAGE_INFO.CONTENTS.
    pub fn measures_contents(self) -> bool {
        matches!(self, PageType::Normal | PageType::Vmsa)
    }
}

/// PAGE_INFO — SEV-SNP ABI 56860 Table 72.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PageInfo {
    /// DIGEST_CUR: the launch digest before this page.
    pub digest_cur: [u8; 48],
    /// CONTENTS: SHA-384 of the page for NORMAL and VMSA pages, else zero.
    pub contents: [u8; 48],
    /// LENGTH: 0x70.
    pub length: U16,
    /// PAGE_TYPE.
    pub page_type: u8,
    /// Bit 0: IMI_PAGE.
    pub imi_page: u8,
    /// Reserved.
    pub _rsvd_0x64: u8,
    /// VMPL1_PERMS.
    pub vmpl1_perms: u8,
    /// VMPL2_PERMS.
    pub vmpl2_perms: u8,
    /// VMPL3_PERMS.
    pub vmpl3_perms: u8,
    /// GPA of the page (VMSA pages: 0x0000_FFFF_FFFF_F000).
    pub gpa: U64,
}

const _: () = assert!(
    size_of::<PageInfo>() == 0x70
        && offset_of!(PageInfo, digest_cur) == 0x00
        && offset_of!(PageInfo, contents) == 0x30
        && offset_of!(PageInfo, length) == 0x60
        && offset_of!(PageInfo, page_type) == 0x62
        && offset_of!(PageInfo, imi_page) == 0x63
        && offset_of!(PageInfo, _rsvd_0x64) == 0x64
        && offset_of!(PageInfo, vmpl1_perms) == 0x65
        && offset_of!(PageInfo, vmpl2_perms) == 0x66
        && offset_of!(PageInfo, vmpl3_perms) == 0x67
        && offset_of!(PageInfo, gpa) == 0x68
);
