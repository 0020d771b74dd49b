//! GUEST_POLICY, PLATFORM_INFO and KEY_INFO bit fields (snp.md §1.4-§1.6; SEV-SNP ABI 56860 Tables 9,
//! 23 and 24).

use serde::{Deserialize, Serialize};

/// GUEST_POLICY (u64) — SEV-SNP ABI 56860 §4.3, Table 9.
///
/// | bits | field |
/// |---|---|
/// | 7:0 | ABI_MINOR |
/// | 15:8 | ABI_MAJOR |
/// | 16 | SMT |
/// | 17 | reserved, must be 1 |
/// | 18 | MIGRATE_MA |
/// | 19 | DEBUG |
/// | 20 | SINGLE_SOCKET |
/// | 21 | CXL_ALLOW |
/// | 22 | MEM_AES_256_XTS |
/// | 23 | RAPL_DIS |
/// | 24 | CIPHERTEXT_HIDING |
/// | 25 | PAGE_SWAP_DISABLE |
/// | 63:26 | reserved, MBZ |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    /// Bit 16: host SMT allowed.
    pub const SMT: u64 = 1 << 16;
    /// Bit 17: reserved, must be one.
    pub const RESERVED_MBO: u64 = 1 << 17;
    /// Bit 18: migration agent allowed.
    pub const MIGRATE_MA: u64 = 1 << 18;
    /// Bit 19: debugging allowed.
    pub const DEBUG: u64 = 1 << 19;
    /// Bit 20: single socket only.
    pub const SINGLE_SOCKET: u64 = 1 << 20;
    /// Bit 21: CXL allowed.
    pub const CXL_ALLOW: u64 = 1 << 21;
    /// Bit 22: AES-256-XTS memory encryption required.
    pub const MEM_AES_256_XTS: u64 = 1 << 22;
    /// Bit 23: RAPL must be disabled.
    pub const RAPL_DIS: u64 = 1 << 23;
    /// Bit 24: ciphertext hiding must be enabled.
    pub const CIPHERTEXT_HIDING: u64 = 1 << 24;
    /// Bit 25: page swap (SNP_PAGE_MOVE/SWAP_OUT/SWAP_IN) disabled.
    pub const PAGE_SWAP_DISABLE: u64 = 1 << 25;
    /// Bits 63:26, must be zero.
    pub const RESERVED_MBZ: u64 = !((1u64 << 26) - 1);
    /// The minimal policy real launches use: SMT allowed, reserved bit 17 set (0x30000).
    pub const DEFAULT: GuestPolicy = GuestPolicy(Self::SMT | Self::RESERVED_MBO);

    /// ABI_MINOR.
    pub fn abi_minor(self) -> u8 {
        (self.0 & 0xff) as u8
    }
    /// ABI_MAJOR.
    pub fn abi_major(self) -> u8 {
        ((self.0 >> 8) & 0xff) as u8
    }
    /// Whether `bit` (one of the constants) is set.
    pub fn has(self, bit: u64) -> bool {
        self.0 & bit != 0
    }
    /// DEBUG bit.
    pub fn debug(self) -> bool {
        self.has(Self::DEBUG)
    }

    /// Names of the set flags, for display.
    pub fn flags(self) -> Vec<&'static str> {
        let names = [
            (Self::SMT, "SMT"),
            (Self::RESERVED_MBO, "RSVD_MBO"),
            (Self::MIGRATE_MA, "MIGRATE_MA"),
            (Self::DEBUG, "DEBUG"),
            (Self::SINGLE_SOCKET, "SINGLE_SOCKET"),
            (Self::CXL_ALLOW, "CXL_ALLOW"),
            (Self::MEM_AES_256_XTS, "MEM_AES_256_XTS"),
            (Self::RAPL_DIS, "RAPL_DIS"),
            (Self::CIPHERTEXT_HIDING, "CIPHERTEXT_HIDING"),
            (Self::PAGE_SWAP_DISABLE, "PAGE_SWAP_DISABLE"),
        ];
        names
            .iter()
            .filter(|(b, _)| self.has(*b))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// PLATFORM_INFO (u64) — SEV-SNP ABI 56860 Table 23 (snp.md §1.5).
///
/// | bit | field |
/// |---|---|
/// | 0 | SMT_EN |
/// | 1 | TSME_EN |
/// | 2 | ECC_EN |
/// | 3 | RAPL_DIS |
/// | 4 | CIPHERTEXT_HIDING_DRAM_EN |
/// | 5 | ALIAS_CHECK_COMPLETE |
/// | 6 | set on real Turin parts; not named by the public spec (treated as information) |
/// | 7 | TIO_EN |
/// | 63:8 | reserved |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    /// Bit 0: SMT enabled.
    pub const SMT_EN: u64 = 1 << 0;
    /// Bit 1: TSME enabled.
    pub const TSME_EN: u64 = 1 << 1;
    /// Bit 2: ECC memory in use.
    pub const ECC_EN: u64 = 1 << 2;
    /// Bit 3: RAPL disabled.
    pub const RAPL_DIS: u64 = 1 << 3;
    /// Bit 4: ciphertext hiding enabled for DRAM.
    pub const CIPHERTEXT_HIDING_DRAM_EN: u64 = 1 << 4;
    /// Bit 5: the BadRAM alias check completed with no aliases.
    pub const ALIAS_CHECK_COMPLETE: u64 = 1 << 5;
    /// Bit 6: observed set on real Turin reports; not named by the public spec.
    pub const BIT6_TURIN: u64 = 1 << 6;
    /// Bit 7: SEV-TIO enabled.
    pub const TIO_EN: u64 = 1 << 7;
    /// Bits this model knows by name (0-5, 7).
    pub const KNOWN: u64 = 0xbf;

    /// Whether `bit` is set.
    pub fn has(self, bit: u64) -> bool {
        self.0 & bit != 0
    }

    /// Names of the set bits; unknown bits are listed as `bitN`.
    pub fn flags(self) -> Vec<String> {
        let names = [
            "SMT_EN",
            "TSME_EN",
            "ECC_EN",
            "RAPL_DIS",
            "CIPHERTEXT_HIDING_DRAM_EN",
            "ALIAS_CHECK_COMPLETE",
            "",
            "TIO_EN",
        ];
        (0..64)
            .filter(|i| self.0 & (1u64 << i) != 0)
            .map(|i| match names.get(i) {
                Some(n) if !n.is_empty() => (*n).to_string(),
                _ => format!("bit{i}"),
            })
            .collect()
    }
}

/// Which key signed a report: KEY_INFO.SIGNING_KEY (bits 4:2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningKey {
    /// 0: the VCEK.
    Vcek,
    /// 1: the VLEK.
    Vlek,
    /// 7: none; the signature is all zero.
    None,
    /// 2-6: reserved.
    Reserved(u8),
}

/// KEY_INFO (u32 at 0x48) — SEV-SNP ABI 56860 Table 23 (snp.md §1.6).
///
/// | bits | field |
/// |---|---|
/// | 0 | AUTHOR_KEY_EN |
/// | 1 | MASK_CHIP_KEY |
/// | 4:2 | SIGNING_KEY (0 VCEK, 1 VLEK, 7 NONE) |
/// | 31:5 | reserved, MBZ |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyInfo(pub u32);

impl KeyInfo {
    /// Bits 31:5, must be zero.
    pub const RESERVED_MBZ: u32 = !0x1f;

    /// Builds KEY_INFO.
    pub fn new(author_key_en: bool, mask_chip_key: bool, signing_key: SigningKey) -> Self {
        let sk: u32 = match signing_key {
            SigningKey::Vcek => 0,
            SigningKey::Vlek => 1,
            SigningKey::None => 7,
            SigningKey::Reserved(v) => u32::from(v & 7),
        };
        KeyInfo(u32::from(author_key_en) | (u32::from(mask_chip_key) << 1) | (sk << 2))
    }
    /// AUTHOR_KEY_EN.
    pub fn author_key_en(self) -> bool {
        self.0 & 1 != 0
    }
    /// MASK_CHIP_KEY.
    pub fn mask_chip_key(self) -> bool {
        self.0 & 2 != 0
    }
    /// SIGNING_KEY.
    pub fn signing_key(self) -> SigningKey {
        match (self.0 >> 2) & 7 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            v => SigningKey::Reserved(v as u8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bits_match_the_spec_table() {
        let p = GuestPolicy(0xB0000);
        assert!(p.debug() && p.has(GuestPolicy::SMT) && p.has(GuestPolicy::RESERVED_MBO));
        assert_eq!(GuestPolicy(0x3001F).abi_minor(), 31);
        assert_eq!(GuestPolicy::DEFAULT.0, 0x30000);
        assert_eq!(GuestPolicy::RESERVED_MBZ & (1 << 25), 0);
        assert_ne!(GuestPolicy::RESERVED_MBZ & (1 << 26), 0);
    }

    #[test]
    fn key_info_round_trip() {
        let k = KeyInfo::new(true, false, SigningKey::Vlek);
        assert_eq!(k.0, 0b00101);
        assert_eq!(k.signing_key(), SigningKey::Vlek);
        assert!(k.author_key_en() && !k.mask_chip_key());
        assert_eq!(KeyInfo(7 << 2).signing_key(), SigningKey::None);
    }

    #[test]
    fn platform_info_flags_name_unknown_bits() {
        assert_eq!(
            PlatformInfo(0x65).flags(),
            vec!["SMT_EN", "ECC_EN", "ALIAS_CHECK_COMPLETE", "bit6"]
        );
    }
}
