//! DCAP quote v4/v5 structures: header, TD report bodies (types 2, 3, 4) and the QE (SGX) report.
//!
//! Sources: DCAP `sgx_quote_4.h`, `sgx_quote_5.h` (`sgx_quote4_header_t`, `sgx_report2_body_t`,
//! `sgx_report2_body_v1_5_t`), dcap-qvl 0.7.1 `src/quote.rs` (`TDReport15Ex`), go-tdx-guest `abi/abi.go`;
//! tdx.md §2.1, §2.2, §2.5.

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Intel's QE vendor ID (`939A7233F79C4CA9940A0DB3957F0607`), which dcap-qvl requires.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
];
/// Attestation key type ECDSA-256-with-P-256.
pub const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;
/// TEE type of a TDX quote.
pub const TEE_TYPE_TDX: u32 = 0x81;

/// Quote header — `sgx_quote4_header_t` (48 bytes, v4 and v5), tdx.md §2.1.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct QuoteHeader {
    /// Quote version: 4 or 5.
    pub version: U16,
    /// Attestation key type: 2 = ECDSA-256-with-P-256.
    pub att_key_type: U16,
    /// TEE type: 0x81 = TDX.
    pub tee_type: U32,
    /// Reserved (`sgx_quote4_header_t.reserved`; libraries disagree on naming it QE/PCE SVN; zero in
    /// every real TDX quote, and written as zero here).
    pub reserved: [u8; 4],
    /// QE vendor ID (Intel: [`INTEL_QE_VENDOR_ID`]).
    pub qe_vendor_id: [u8; 16],
    /// User data: the first 16 bytes are the platform's QE ID, the last 4 are zero.
    pub user_data: [u8; 20],
}

const _: () = {
    assert!(size_of::<QuoteHeader>() == 48);
    assert!(offset_of!(QuoteHeader, version) == 0);
    assert!(offset_of!(QuoteHeader, att_key_type) == 2);
    assert!(offset_of!(QuoteHeader, tee_type) == 4);
    assert!(offset_of!(QuoteHeader, reserved) == 8);
    assert!(offset_of!(QuoteHeader, qe_vendor_id) == 12);
    assert!(offset_of!(QuoteHeader, user_data) == 28);
};

/// TD report body 1.0 — `sgx_report2_body_t` (584 bytes; v4 body, v5 body type 2), tdx.md §2.2.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TdReportBody10 {
    /// TEE_TCB_SVN (← TEE_TCB_INFO+0x08).
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM (← TEE_TCB_INFO+0x18).
    pub mrseam: [u8; 48],
    /// MRSIGNERSEAM (← TEE_TCB_INFO+0x48).
    pub mrsignerseam: [u8; 48],
    /// SEAMATTRIBUTES (← TEE_TCB_INFO+0x78).
    pub seam_attributes: U64,
    /// TDATTRIBUTES (← TDINFO+0x00).
    pub td_attributes: U64,
    /// XFAM (← TDINFO+0x08).
    pub xfam: U64,
    /// MRTD (← TDINFO+0x10).
    pub mrtd: [u8; 48],
    /// MRCONFIGID (← TDINFO+0x40).
    pub mrconfigid: [u8; 48],
    /// MROWNER (← TDINFO+0x70).
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG (← TDINFO+0xA0).
    pub mrownerconfig: [u8; 48],
    /// RTMR0..3 (← TDINFO+0xD0).
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA (← REPORTMACSTRUCT+0x80).
    pub report_data: [u8; 64],
}

const _: () = {
    assert!(size_of::<TdReportBody10>() == 584);
    assert!(offset_of!(TdReportBody10, tee_tcb_svn) == 0);
    assert!(offset_of!(TdReportBody10, mrseam) == 16);
    assert!(offset_of!(TdReportBody10, mrsignerseam) == 64);
    assert!(offset_of!(TdReportBody10, seam_attributes) == 112);
    assert!(offset_of!(TdReportBody10, td_attributes) == 120);
    assert!(offset_of!(TdReportBody10, xfam) == 128);
    assert!(offset_of!(TdReportBody10, mrtd) == 136);
    assert!(offset_of!(TdReportBody10, mrconfigid) == 184);
    assert!(offset_of!(TdReportBody10, mrowner) == 232);
    assert!(offset_of!(TdReportBody10, mrownerconfig) == 280);
    assert!(offset_of!(TdReportBody10, rtmr) == 328);
    assert!(offset_of!(TdReportBody10, report_data) == 520);
};

/// TD report body 1.5 — `sgx_report2_body_v1_5_t` (648 bytes; v5 body type 3), tdx.md §2.2.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TdReportBody15 {
    /// The TD 1.0 fields.
    pub base: TdReportBody10,
    /// TEE_TCB_SVN2 (← TEE_TCB_INFO+0x80).
    pub tee_tcb_svn2: [u8; 16],
    /// MRSERVICETD (← TDINFO+0x190).
    pub mrservicetd: [u8; 48],
}

const _: () = {
    assert!(size_of::<TdReportBody15>() == 648);
    assert!(offset_of!(TdReportBody15, tee_tcb_svn2) == 584);
    assert!(offset_of!(TdReportBody15, mrservicetd) == 600);
};

/// TD report body "1.5 ex" (885 bytes; v5 body type 4). Field list from dcap-qvl 0.7.1 `TDReport15Ex`
/// (not yet in the 2025-08 DCAP headers), tdx.md §2.2.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TdReportBody15Ex {
    /// The TD 1.5 fields.
    pub base: TdReportBody15,
    /// VMID (0 = L1 VM).
    pub vm_id: u8,
    /// TD_ID.
    pub td_id: [u8; 32],
    /// DEV_INFO hash.
    pub dev_info_hash: [u8; 48],
    /// INIT_SERVICE_TD_HASH.
    pub init_servtd_hash: [u8; 48],
    /// INIT_SERVICE_TD_ATTRIBUTES.
    pub init_servtd_attributes: U64,
    /// INIT_CPUSVN.
    pub init_cpusvn: [u8; 16],
    /// INIT_TEE_TCB_SVN.
    pub init_tee_tcb_svn: [u8; 16],
    /// INIT_TEE_FMSPC.
    pub init_tee_fmspc: [u8; 12],
    /// CUR_SERVICE_TD_HASH.
    pub cur_servtd_hash: [u8; 48],
    /// CUR_SERVICE_TD_ATTRIBUTES.
    pub cur_servtd_attributes: U64,
}

const _: () = {
    assert!(size_of::<TdReportBody15Ex>() == 885);
    assert!(offset_of!(TdReportBody15Ex, vm_id) == 648);
    assert!(offset_of!(TdReportBody15Ex, td_id) == 649);
    assert!(offset_of!(TdReportBody15Ex, dev_info_hash) == 681);
    assert!(offset_of!(TdReportBody15Ex, init_servtd_hash) == 729);
    assert!(offset_of!(TdReportBody15Ex, init_servtd_attributes) == 777);
    assert!(offset_of!(TdReportBody15Ex, init_cpusvn) == 785);
    assert!(offset_of!(TdReportBody15Ex, init_tee_tcb_svn) == 801);
    assert!(offset_of!(TdReportBody15Ex, init_tee_fmspc) == 817);
    assert!(offset_of!(TdReportBody15Ex, cur_servtd_hash) == 829);
    assert!(offset_of!(TdReportBody15Ex, cur_servtd_attributes) == 877);
};

/// QE report — SGX `sgx_report_body_t` (384 bytes) of the TD quoting enclave, tdx.md §2.5.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EnclaveReport {
    /// CPUSVN.
    pub cpusvn: [u8; 16],
    /// MISCSELECT.
    pub miscselect: U32,
    /// Reserved.
    pub _rsvd_20: [u8; 28],
    /// ATTRIBUTES (flags ‖ xfrm).
    pub attributes: [u8; 16],
    /// MRENCLAVE.
    pub mrenclave: [u8; 32],
    /// Reserved.
    pub _rsvd_96: [u8; 32],
    /// MRSIGNER.
    pub mrsigner: [u8; 32],
    /// Reserved.
    pub _rsvd_160: [u8; 96],
    /// ISVPRODID.
    pub isvprodid: U16,
    /// ISVSVN.
    pub isvsvn: U16,
    /// Reserved.
    pub _rsvd_260: [u8; 60],
    /// REPORTDATA: SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
    pub report_data: [u8; 64],
}

const _: () = {
    assert!(size_of::<EnclaveReport>() == 384);
    assert!(offset_of!(EnclaveReport, miscselect) == 16);
    assert!(offset_of!(EnclaveReport, _rsvd_20) == 20);
    assert!(offset_of!(EnclaveReport, attributes) == 48);
    assert!(offset_of!(EnclaveReport, mrenclave) == 64);
    assert!(offset_of!(EnclaveReport, _rsvd_96) == 96);
    assert!(offset_of!(EnclaveReport, mrsigner) == 128);
    assert!(offset_of!(EnclaveReport, _rsvd_160) == 160);
    assert!(offset_of!(EnclaveReport, isvprodid) == 256);
    assert!(offset_of!(EnclaveReport, isvsvn) == 258);
    assert!(offset_of!(EnclaveReport, _rsvd_260) == 260);
    assert!(offset_of!(EnclaveReport, report_data) == 320);
};
