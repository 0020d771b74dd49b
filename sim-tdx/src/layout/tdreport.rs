//! TDREPORT_STRUCT (1024 bytes): REPORTMACSTRUCT ‖ TEE_TCB_INFO ‖ TDINFO.
//!
//! Source: TDX module 1.5 `include/tdx_api_defs.h` (`report_mac_struct_t`, `tee_tcb_info_t`, `td_info_t`,
//! `td_report_t`), DCAP `sgx_quote_4.h`/`sgx_quote_5.h`, SGX SDK `sgx_report2.h`; tdx.md §1.1.

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::U64;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Bytes of TEE_TCB_INFO covered by TEE_TCB_INFO_HASH (`TEE_TCB_INFO_SIZE`, `sgx_report2.h`).
///
/// The TDX-module source declares a 256-byte struct, but Intel hashes only the first 239 bytes
/// (tdx.md §1.1, checked on a real Azure TDREPORT).
pub const TEE_TCB_INFO_HASHED_LEN: usize = 239;

/// REPORTTYPE.TYPE of a TDX report (0x00 is SGX).
pub const REPORT_TYPE_TDX: u8 = 0x81;

/// REPORTMACSTRUCT — TDX module ABI `report_mac_struct_t`, tdx.md §1.1 (offsets 0x000..0x100).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReportMacStruct {
    /// REPORTTYPE: TYPE (0x81 = TDX), SUBTYPE (0), VERSION (0, or 1 with service TDs), reserved.
    pub report_type: [u8; 4],
    /// Reserved, must be zero.
    pub _rsvd_0x04: [u8; 12],
    /// CPUSVN: the 16 CPU component SVNs.
    pub cpusvn: [u8; 16],
    /// TEE_TCB_INFO_HASH: SHA-384 of the first 239 bytes of TEE_TCB_INFO.
    pub tee_tcb_info_hash: [u8; 48],
    /// TEE_INFO_HASH: SHA-384 of the 512-byte TDINFO.
    pub tee_info_hash: [u8; 48],
    /// REPORTDATA: 64 bytes supplied by the TD.
    pub report_data: [u8; 64],
    /// Reserved, must be zero.
    pub _rsvd_0xc0: [u8; 32],
    /// MAC over bytes 0x000..0x0E0 (model-specific on hardware; HMAC-SHA-256 in this simulator).
    pub mac: [u8; 32],
}

const _: () = {
    assert!(size_of::<ReportMacStruct>() == 0x100);
    assert!(offset_of!(ReportMacStruct, report_type) == 0x00);
    assert!(offset_of!(ReportMacStruct, _rsvd_0x04) == 0x04);
    assert!(offset_of!(ReportMacStruct, cpusvn) == 0x10);
    assert!(offset_of!(ReportMacStruct, tee_tcb_info_hash) == 0x20);
    assert!(offset_of!(ReportMacStruct, tee_info_hash) == 0x50);
    assert!(offset_of!(ReportMacStruct, report_data) == 0x80);
    assert!(offset_of!(ReportMacStruct, _rsvd_0xc0) == 0xC0);
    assert!(offset_of!(ReportMacStruct, mac) == 0xE0);
};

/// TEE_TCB_INFO — TDX module ABI `tee_tcb_info_t` (256 bytes, of which 239 are hashed), tdx.md §1.1.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TeeTcbInfo {
    /// VALID: bit i set = the 8-byte field at byte 8*i is valid (0x1FF TDX 1.0, 0x301FF TDX 1.5).
    pub valid: [u8; 8],
    /// TEE_TCB_SVN: byte 0 module ISV SVN, byte 1 module major version, byte 2 late-microcode SVN.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: SHA-384 of the TDX module.
    pub mrseam: [u8; 48],
    /// MRSIGNERSEAM: zero for Intel-signed modules.
    pub mrsignerseam: [u8; 48],
    /// ATTRIBUTES of the SEAM module: zero for Intel modules.
    pub attributes: U64,
    /// TEE_TCB_SVN2 (TDX 1.5): the current TCB after a TD-preserving update; reserved in 1.0.
    pub tee_tcb_svn2: [u8; 16],
    /// Reserved (inside the 239 hashed bytes).
    pub _rsvd_0x90: [u8; 95],
    /// Reserved (outside the hashed bytes).
    pub _rsvd_0xef: [u8; 17],
}

const _: () = {
    assert!(size_of::<TeeTcbInfo>() == 0x100);
    assert!(offset_of!(TeeTcbInfo, valid) == 0x00);
    assert!(offset_of!(TeeTcbInfo, tee_tcb_svn) == 0x08);
    assert!(offset_of!(TeeTcbInfo, mrseam) == 0x18);
    assert!(offset_of!(TeeTcbInfo, mrsignerseam) == 0x48);
    assert!(offset_of!(TeeTcbInfo, attributes) == 0x78);
    assert!(offset_of!(TeeTcbInfo, tee_tcb_svn2) == 0x80);
    assert!(offset_of!(TeeTcbInfo, _rsvd_0x90) == 0x90);
    assert!(offset_of!(TeeTcbInfo, _rsvd_0xef) == TEE_TCB_INFO_HASHED_LEN);
};

/// TDINFO — TDX module ABI `td_info_t` (512 bytes), copied from the TDCS; tdx.md §1.1.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TdInfo {
    /// ATTRIBUTES: TD attributes (DEBUG bit 0, SEPT_VE_DISABLE bit 28, ...; tdx.md §2.6).
    pub attributes: U64,
    /// XFAM: extended features available mask.
    pub xfam: U64,
    /// MRTD: build-time measurement (tdx.md §4.1).
    pub mrtd: [u8; 48],
    /// MRCONFIGID: from TD_PARAMS at TDH.MNG.INIT.
    pub mrconfigid: [u8; 48],
    /// MROWNER.
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG.
    pub mrownerconfig: [u8; 48],
    /// RTMR0..3: run-time measurement registers.
    pub rtmr: [[u8; 48]; 4],
    /// SERVTD_HASH (TDX 1.5): hash of the bound service TDs, zero if none.
    pub servtd_hash: [u8; 48],
    /// Reserved, must be zero.
    pub _rsvd_0x1c0: [u8; 64],
}

const _: () = {
    assert!(size_of::<TdInfo>() == 0x200);
    assert!(offset_of!(TdInfo, attributes) == 0x00);
    assert!(offset_of!(TdInfo, xfam) == 0x08);
    assert!(offset_of!(TdInfo, mrtd) == 0x10);
    assert!(offset_of!(TdInfo, mrconfigid) == 0x40);
    assert!(offset_of!(TdInfo, mrowner) == 0x70);
    assert!(offset_of!(TdInfo, mrownerconfig) == 0xA0);
    assert!(offset_of!(TdInfo, rtmr) == 0xD0);
    assert!(offset_of!(TdInfo, servtd_hash) == 0x190);
    assert!(offset_of!(TdInfo, _rsvd_0x1c0) == 0x1C0);
};

/// TDREPORT_STRUCT — TDX module ABI `td_report_t` (1024 bytes), tdx.md §1.1.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TdReport {
    /// REPORTMACSTRUCT at 0x000.
    pub report_mac_struct: ReportMacStruct,
    /// TEE_TCB_INFO at 0x100.
    pub tee_tcb_info: TeeTcbInfo,
    /// TDINFO at 0x200.
    pub td_info: TdInfo,
}

const _: () = {
    assert!(size_of::<TdReport>() == 0x400);
    assert!(offset_of!(TdReport, report_mac_struct) == 0x000);
    assert!(offset_of!(TdReport, tee_tcb_info) == 0x100);
    assert!(offset_of!(TdReport, td_info) == 0x200);
};

/// TD attribute bits (TDX ABI 348551 Table 3.23, as cited by dcap-qvl; tdx.md §2.6).
pub mod attributes {
    /// DEBUG (bit 0): the host can read and write TD memory and state.
    pub const DEBUG: u64 = 1 << 0;
    /// SEPT_VE_DISABLE (bit 28): EPT violations on PENDING pages exit to the host instead of #VE.
    pub const SEPT_VE_DISABLE: u64 = 1 << 28;
    /// MIGRATABLE (bit 29).
    pub const MIGRATABLE: u64 = 1 << 29;
    /// SERVTD_EXT (bit 17).
    pub const SERVTD_EXT: u64 = 1 << 17;
    /// PKS (bit 30).
    pub const PKS: u64 = 1 << 30;
    /// Reserved (must-be-zero) bits: 1–3, 7–15, 23–26, 32–61.
    pub const RESERVED_MASK: u64 = 0x0E | 0xFF80 | (0xF << 23) | (((1u64 << 30) - 1) << 32);
}

impl TdReport {
    /// Reads a TDREPORT_STRUCT: exactly 1024 bytes (any content; see [`crate::module::check_tdreport`]).
    pub fn parse(bytes: &[u8]) -> Result<TdReport, sim_core::parse::ParseError> {
        use sim_core::parse::{ParseError, ParseErrorKind};
        if bytes.len() > size_of::<TdReport>() {
            return Err(ParseError::new(
                "TDREPORT_STRUCT",
                size_of::<TdReport>(),
                ParseErrorKind::TrailingData {
                    len: bytes.len() - size_of::<TdReport>(),
                },
            ));
        }
        TdReport::read_from_bytes(bytes).map_err(|_| {
            ParseError::truncated("TDREPORT_STRUCT", 0, size_of::<TdReport>(), bytes.len())
        })
    }

    /// Bytes of REPORTMACSTRUCT that the MAC covers (0x000..0x0E0).
    pub fn mac_input(&self) -> &[u8] {
        let b = self.report_mac_struct.as_bytes();
        b.get(..0xE0).unwrap_or(b)
    }

    /// The hashed 239 bytes of TEE_TCB_INFO.
    pub fn tee_tcb_info_hashed(&self) -> &[u8] {
        let b = self.tee_tcb_info.as_bytes();
        b.get(..TEE_TCB_INFO_HASHED_LEN).unwrap_or(b)
    }
}
