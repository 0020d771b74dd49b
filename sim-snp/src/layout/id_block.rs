//! ID_BLOCK, ID_AUTH_INFO and the AMD ECDSA public-key format — SEV-SNP ABI 56860 §8.18 Tables 75-76
//! and Table 137 (snp.md §1.2, §3.4).

use std::mem::{offset_of, size_of};

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::report::EcdsaSignature;

/// ID_BLOCK — SEV-SNP ABI 56860 Table 75.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct IdBlock {
    /// LD: the expected launch digest.
    pub ld: [u8; 48],
    /// FAMILY_ID.
    pub family_id: [u8; 16],
    /// IMAGE_ID.
    pub image_id: [u8; 16],
    /// VERSION: 1.
    pub version: U32,
    /// GUEST_SVN.
    pub guest_svn: U32,
    /// POLICY: must equal the launch policy.
    pub policy: U64,
}

const _: () = assert!(
    size_of::<IdBlock>() == 0x60
        && offset_of!(IdBlock, ld) == 0x00
        && offset_of!(IdBlock, family_id) == 0x30
        && offset_of!(IdBlock, image_id) == 0x40
        && offset_of!(IdBlock, version) == 0x50
        && offset_of!(IdBlock, guest_svn) == 0x54
        && offset_of!(IdBlock, policy) == 0x58
);

/// ECDSA public key in AMD's format — SEV-SNP ABI 56860 Table 137: CURVE (2 = P-384), QX and QY
/// little-endian zero-extended to 72 bytes, reserved to 0x404.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EcdsaPublicKey {
    /// CURVE: 2 = P-384.
    pub curve: U32,
    /// QX, little-endian.
    pub qx: [u8; 72],
    /// QY, little-endian.
    pub qy: [u8; 72],
    /// Reserved.
    pub _rsvd_0x94: [u8; 0x370],
}

const _: () = assert!(
    size_of::<EcdsaPublicKey>() == 0x404
        && offset_of!(EcdsaPublicKey, curve) == 0x00
        && offset_of!(EcdsaPublicKey, qx) == 0x04
        && offset_of!(EcdsaPublicKey, qy) == 0x4C
        && offset_of!(EcdsaPublicKey, _rsvd_0x94) == 0x94
);

/// ID_AUTH_INFO — SEV-SNP ABI 56860 Table 76.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct IdAuthInfo {
    /// ID_KEY_ALGO: 1 = ECDSA P-384 with SHA-384.
    pub id_key_algo: U32,
    /// AUTH_KEY_ALGO: 1 = ECDSA P-384 with SHA-384.
    pub auth_key_algo: U32,
    /// Reserved.
    pub _rsvd_0x008: [u8; 0x38],
    /// ID_BLOCK_SIG: signature of the ID block by the ID key.
    pub id_block_sig: EcdsaSignature,
    /// ID_KEY.
    pub id_key: EcdsaPublicKey,
    /// Reserved.
    pub _rsvd_0x644: [u8; 0x3C],
    /// ID_KEY_SIG: signature of ID_KEY by the author key.
    pub id_key_sig: EcdsaSignature,
    /// AUTHOR_KEY.
    pub author_key: EcdsaPublicKey,
    /// Reserved.
    pub _rsvd_0xc84: [u8; 0x37C],
}

const _: () = assert!(
    size_of::<IdAuthInfo>() == 0x1000
        && offset_of!(IdAuthInfo, id_key_algo) == 0x000
        && offset_of!(IdAuthInfo, auth_key_algo) == 0x004
        && offset_of!(IdAuthInfo, id_block_sig) == 0x040
        && offset_of!(IdAuthInfo, id_key) == 0x240
        && offset_of!(IdAuthInfo, _rsvd_0x644) == 0x644
        && offset_of!(IdAuthInfo, id_key_sig) == 0x680
        && offset_of!(IdAuthInfo, author_key) == 0x880
        && offset_of!(IdAuthInfo, _rsvd_0xc84) == 0xC84
);
