//! SNP_GUEST_REQUEST messages — SEV-SNP ABI 56860 §8.26 (Tables 98-104), snp.md §5.

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Size of the message header.
pub const HEADER_SIZE: usize = 0x60;

/// Message header — SEV-SNP ABI 56860 Table 98 (ASPFW `snp_guest_message_header_t`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct GuestMsgHeader {
    /// AUTHTAG: the AES-GCM tag in the first 16 bytes, the rest zero.
    pub authtag: [u8; 32],
    /// MSG_SEQNO.
    pub msg_seqno: U64,
    /// Reserved.
    pub _rsvd_0x28: [u8; 8],
    /// ALGO: 1 = AES-256-GCM.
    pub algo: u8,
    /// HDR_VERSION: 1.
    pub hdr_version: u8,
    /// HDR_SIZE: 0x60.
    pub hdr_size: U16,
    /// MSG_TYPE.
    pub msg_type: u8,
    /// MSG_VERSION.
    pub msg_version: u8,
    /// MSG_SIZE: plaintext payload length, non-zero.
    pub msg_size: U16,
    /// Reserved.
    pub _rsvd_0x38: [u8; 4],
    /// MSG_VMPCK: which VMPCK (0-3) encrypts the payload.
    pub msg_vmpck: u8,
    /// Reserved.
    pub _rsvd_0x3d: [u8; 35],
}

const _: () = assert!(
    size_of::<GuestMsgHeader>() == HEADER_SIZE
        && offset_of!(GuestMsgHeader, authtag) == 0x00
        && offset_of!(GuestMsgHeader, msg_seqno) == 0x20
        && offset_of!(GuestMsgHeader, _rsvd_0x28) == 0x28
        && offset_of!(GuestMsgHeader, algo) == 0x30
        && offset_of!(GuestMsgHeader, hdr_version) == 0x31
        && offset_of!(GuestMsgHeader, hdr_size) == 0x32
        && offset_of!(GuestMsgHeader, msg_type) == 0x34
        && offset_of!(GuestMsgHeader, msg_version) == 0x35
        && offset_of!(GuestMsgHeader, msg_size) == 0x36
        && offset_of!(GuestMsgHeader, _rsvd_0x38) == 0x38
        && offset_of!(GuestMsgHeader, msg_vmpck) == 0x3C
        && offset_of!(GuestMsgHeader, _rsvd_0x3d) == 0x3D
);

/// Message types — SEV-SNP ABI 56860 Table 100.
#[allow(missing_docs)]
pub mod msg_type {
    pub const CPUID_REQ: u8 = 1;
    pub const CPUID_RSP: u8 = 2;
    pub const KEY_REQ: u8 = 3;
    pub const KEY_RSP: u8 = 4;
    pub const REPORT_REQ: u8 = 5;
    pub const REPORT_RSP: u8 = 6;
}

/// MSG_REPORT_REQ — SEV-SNP ABI 56860 Table 22.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReportReq {
    /// REPORT_DATA.
    pub report_data: [u8; 64],
    /// VMPL to put in the report; must be ≥ the VMPCK index used.
    pub vmpl: U32,
    /// KEY_SEL (bits 1:0): 0 VLEK if loaded else VCEK, 1 VCEK, 2 VLEK, 3 reserved.
    pub key_sel: U32,
    /// Reserved, must be zero.
    pub _rsvd_0x48: [u8; 24],
}

const _: () = assert!(
    size_of::<ReportReq>() == 0x60
        && offset_of!(ReportReq, report_data) == 0x00
        && offset_of!(ReportReq, vmpl) == 0x40
        && offset_of!(ReportReq, key_sel) == 0x44
        && offset_of!(ReportReq, _rsvd_0x48) == 0x48
);

/// MSG_REPORT_RSP — SEV-SNP ABI 56860 Table 25: status, size, then the report.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReportRsp {
    /// STATUS: 0 success, 0x16 INVALID_PARAM, 0x27 INVALID_KEY.
    pub status: U32,
    /// REPORT_SIZE: 0x4A0.
    pub report_size: U32,
    /// Reserved.
    pub _rsvd_0x08: [u8; 24],
    /// REPORT.
    pub report: super::report::AttestationReportRaw,
}

const _: () = assert!(
    size_of::<ReportRsp>() == 0x20 + 0x4A0
        && offset_of!(ReportRsp, status) == 0x00
        && offset_of!(ReportRsp, report_size) == 0x04
        && offset_of!(ReportRsp, report) == 0x20
);

/// MSG_KEY_REQ — SEV-SNP ABI 56860 Table 19 (rev 1.58 adds LAUNCH_MIT_VECTOR).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct KeyReq {
    /// Bit 0 ROOT_KEY_SELECT (0 VCEK/VLEK, 1 VMRK); bits 2:1 KEY_SEL; rest reserved.
    pub key_select: U32,
    /// Reserved.
    pub _rsvd_0x04: U32,
    /// GUEST_FIELD_SELECT.
    pub guest_field_select: U64,
    /// VMPL to mix in; must be ≥ the VMPCK index used.
    pub vmpl: U32,
    /// GUEST_SVN to mix in; must be ≤ the ID block's.
    pub guest_svn: U32,
    /// TCB_VERSION to mix in; must be ≤ COMMITTED_TCB.
    pub tcb_version: U64,
    /// LAUNCH_MIT_VECTOR to mix in (rev 1.58).
    pub launch_mit_vector: U64,
    /// Reserved.
    pub _rsvd_0x28: [u8; 24],
}

const _: () = assert!(
    size_of::<KeyReq>() == 0x40
        && offset_of!(KeyReq, key_select) == 0x00
        && offset_of!(KeyReq, guest_field_select) == 0x08
        && offset_of!(KeyReq, vmpl) == 0x10
        && offset_of!(KeyReq, guest_svn) == 0x14
        && offset_of!(KeyReq, tcb_version) == 0x18
        && offset_of!(KeyReq, launch_mit_vector) == 0x20
);

/// MSG_KEY_RSP — SEV-SNP ABI 56860 Table 20.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct KeyRsp {
    /// STATUS.
    pub status: U32,
    /// Reserved.
    pub _rsvd_0x04: [u8; 28],
    /// DERIVED_KEY.
    pub derived_key: [u8; 32],
}

const _: () = assert!(size_of::<KeyRsp>() == 0x40 && offset_of!(KeyRsp, derived_key) == 0x20);
