//! ATTESTATION_REPORT (0x4A0 bytes, little-endian) — SEV-SNP ABI 56860 rev 1.57 §7.3, Table 23
//! (snp.md §1.1, §1.2). One structure for versions 2, 3 and 5: fields a version does not have are
//! reserved bytes of the older versions, and the typed layer ([`crate::report`]) knows which.

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Size of an ATTESTATION_REPORT.
pub const REPORT_SIZE: usize = 0x4A0;
/// End of the signed range: the signature covers bytes 0x000..0x2A0 (snp.md §1.2).
pub const SIGNED_LEN: usize = 0x2A0;

/// ECDSA signature in AMD's format — SEV-SNP ABI 56860 Table 139 ("ECDSA Signature Format"): R and S
/// as little-endian integers zero-extended to 72 bytes, then 368 reserved zero bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EcdsaSignature {
    /// R, little-endian, 72 bytes (P-384 uses the low 48).
    pub r: [u8; 72],
    /// S, little-endian, 72 bytes (P-384 uses the low 48).
    pub s: [u8; 72],
    /// Reserved, must be zero.
    pub _rsvd_0x90: [u8; 368],
}

const _: () = assert!(
    size_of::<EcdsaSignature>() == 0x200
        && offset_of!(EcdsaSignature, r) == 0x00
        && offset_of!(EcdsaSignature, s) == 0x48
        && offset_of!(EcdsaSignature, _rsvd_0x90) == 0x90
);

impl Default for EcdsaSignature {
    fn default() -> Self {
        EcdsaSignature {
            r: [0; 72],
            s: [0; 72],
            _rsvd_0x90: [0; 368],
        }
    }
}

/// ATTESTATION_REPORT — SEV-SNP ABI 56860 rev 1.57 Table 23 (report versions 2, 3, 5).
///
/// Holds any bytes: the typed layer ([`crate::report::AttestationReport`]) validates them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct AttestationReportRaw {
    /// VERSION: 2, 3 or 5 (4 is parsed as 3).
    pub version: U32,
    /// GUEST_SVN from the ID block, 0 without one.
    pub guest_svn: U32,
    /// POLICY: the guest policy given at SNP_LAUNCH_START.
    pub policy: U64,
    /// FAMILY_ID from the ID block.
    pub family_id: [u8; 16],
    /// IMAGE_ID from the ID block.
    pub image_id: [u8; 16],
    /// VMPL the report was requested for.
    pub vmpl: U32,
    /// SIGNATURE_ALGO: 1 = ECDSA P-384 with SHA-384.
    pub signature_algo: U32,
    /// CURRENT_TCB (TCB_VERSION in the product's layout).
    pub current_tcb: U64,
    /// PLATFORM_INFO.
    pub platform_info: U64,
    /// KEY_INFO: AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY.
    pub key_info: U32,
    /// Reserved, must be zero.
    pub _rsvd_0x04c: [u8; 4],
    /// REPORT_DATA supplied by the guest.
    pub report_data: [u8; 64],
    /// MEASUREMENT: the launch digest.
    pub measurement: [u8; 48],
    /// HOST_DATA from SNP_LAUNCH_FINISH.
    pub host_data: [u8; 32],
    /// ID_KEY_DIGEST: SHA-384 of the ID public key, 0 without an ID block.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST: SHA-384 of the author public key, 0 unless AUTHOR_KEY_EN.
    pub author_key_digest: [u8; 48],
    /// REPORT_ID.
    pub report_id: [u8; 32],
    /// REPORT_ID_MA: the migration agent's REPORT_ID, all 0xFF without one.
    pub report_id_ma: [u8; 32],
    /// REPORTED_TCB: the TCB of the key that signed.
    pub reported_tcb: U64,
    /// CPUID_FAM_ID (v3+; reserved in v2).
    pub cpuid_fam_id: u8,
    /// CPUID_MOD_ID (v3+; reserved in v2).
    pub cpuid_mod_id: u8,
    /// CPUID_STEP (v3+; reserved in v2).
    pub cpuid_step: u8,
    /// Reserved, must be zero.
    pub _rsvd_0x18b: [u8; 21],
    /// CHIP_ID (zero when MASK_CHIP_ID; Turin: 8 bytes then zeros).
    pub chip_id: [u8; 64],
    /// COMMITTED_TCB.
    pub committed_tcb: U64,
    /// CURRENT_BUILD.
    pub current_build: u8,
    /// CURRENT_MINOR.
    pub current_minor: u8,
    /// CURRENT_MAJOR.
    pub current_major: u8,
    /// Reserved, must be zero.
    pub _rsvd_0x1eb: u8,
    /// COMMITTED_BUILD.
    pub committed_build: u8,
    /// COMMITTED_MINOR.
    pub committed_minor: u8,
    /// COMMITTED_MAJOR.
    pub committed_major: u8,
    /// Reserved, must be zero.
    pub _rsvd_0x1ef: u8,
    /// LAUNCH_TCB: CURRENT_TCB at launch.
    pub launch_tcb: U64,
    /// LAUNCH_MIT_VECTOR (v5; reserved before).
    pub launch_mit_vector: U64,
    /// CURRENT_MIT_VECTOR (v5; reserved before).
    pub current_mit_vector: U64,
    /// Reserved, must be zero.
    pub _rsvd_0x208: [u8; 152],
    /// SIGNATURE over bytes 0x000..0x2A0.
    pub signature: EcdsaSignature,
}

const _: () = assert!(
    size_of::<AttestationReportRaw>() == REPORT_SIZE
        && offset_of!(AttestationReportRaw, version) == 0x000
        && offset_of!(AttestationReportRaw, guest_svn) == 0x004
        && offset_of!(AttestationReportRaw, policy) == 0x008
        && offset_of!(AttestationReportRaw, family_id) == 0x010
        && offset_of!(AttestationReportRaw, image_id) == 0x020
        && offset_of!(AttestationReportRaw, vmpl) == 0x030
        && offset_of!(AttestationReportRaw, signature_algo) == 0x034
        && offset_of!(AttestationReportRaw, current_tcb) == 0x038
        && offset_of!(AttestationReportRaw, platform_info) == 0x040
        && offset_of!(AttestationReportRaw, key_info) == 0x048
        && offset_of!(AttestationReportRaw, _rsvd_0x04c) == 0x04C
        && offset_of!(AttestationReportRaw, report_data) == 0x050
        && offset_of!(AttestationReportRaw, measurement) == 0x090
        && offset_of!(AttestationReportRaw, host_data) == 0x0C0
        && offset_of!(AttestationReportRaw, id_key_digest) == 0x0E0
        && offset_of!(AttestationReportRaw, author_key_digest) == 0x110
        && offset_of!(AttestationReportRaw, report_id) == 0x140
        && offset_of!(AttestationReportRaw, report_id_ma) == 0x160
        && offset_of!(AttestationReportRaw, reported_tcb) == 0x180
        && offset_of!(AttestationReportRaw, cpuid_fam_id) == 0x188
        && offset_of!(AttestationReportRaw, cpuid_mod_id) == 0x189
        && offset_of!(AttestationReportRaw, cpuid_step) == 0x18A
        && offset_of!(AttestationReportRaw, _rsvd_0x18b) == 0x18B
        && offset_of!(AttestationReportRaw, chip_id) == 0x1A0
        && offset_of!(AttestationReportRaw, committed_tcb) == 0x1E0
        && offset_of!(AttestationReportRaw, current_build) == 0x1E8
        && offset_of!(AttestationReportRaw, current_minor) == 0x1E9
        && offset_of!(AttestationReportRaw, current_major) == 0x1EA
        && offset_of!(AttestationReportRaw, _rsvd_0x1eb) == 0x1EB
        && offset_of!(AttestationReportRaw, committed_build) == 0x1EC
        && offset_of!(AttestationReportRaw, committed_minor) == 0x1ED
        && offset_of!(AttestationReportRaw, committed_major) == 0x1EE
        && offset_of!(AttestationReportRaw, _rsvd_0x1ef) == 0x1EF
        && offset_of!(AttestationReportRaw, launch_tcb) == 0x1F0
        && offset_of!(AttestationReportRaw, launch_mit_vector) == 0x1F8
        && offset_of!(AttestationReportRaw, current_mit_vector) == 0x200
        && offset_of!(AttestationReportRaw, _rsvd_0x208) == 0x208
        && offset_of!(AttestationReportRaw, signature) == 0x2A0
);

impl AttestationReportRaw {
    /// An all-zero report.
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }

    /// The signed bytes 0x000..0x2A0.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.as_bytes()[..SIGNED_LEN]
    }
}
