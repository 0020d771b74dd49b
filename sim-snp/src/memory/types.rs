//! Small types of the memory model: page sizes, ASIDs, VMPLs, the guest-policy and platform-info bits it
//! uses, and the product generation. Defined here so the memory model stands on its own.

use serde::{Deserialize, Serialize};

/// 4 KiB.
pub const PAGE_4K: u64 = 0x1000;
/// 2 MiB.
pub const PAGE_2M: u64 = 0x20_0000;

/// An address space identifier (RMP.ASID, 10 bits; 0 is the host).
pub type Asid = u32;

/// Largest ASID an RMP entry can hold (10-bit field, snp.md §4.1).
pub const MAX_ASID: Asid = 0x3FF;

/// A virtual machine privilege level, 0 (most privileged) to 3.
pub type Vmpl = u8;

/// Page size of an RMP entry, an NPT mapping or an instruction operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageSize {
    /// 4 KiB (RMP PAGE_SIZE = 0).
    Size4K,
    /// 2 MiB (RMP PAGE_SIZE = 1).
    Size2M,
}

impl PageSize {
    /// Size in bytes.
    pub fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => PAGE_4K,
            PageSize::Size2M => PAGE_2M,
        }
    }

    /// The trace spelling, `4K` or `2M`.
    pub fn as_str(self) -> &'static str {
        match self {
            PageSize::Size4K => "4K",
            PageSize::Size2M => "2M",
        }
    }
}

/// GUEST_POLICY bits the memory model consults (snp.md §1.4).
pub mod policy {
    /// Bit 17: reserved, must be 1 (ASPFW `POLICY_VMPL`).
    pub const RSVD_MBO: u64 = 1 << 17;
    /// Bit 16: SMT allowed.
    pub const SMT: u64 = 1 << 16;
    /// Bit 22: MEM_AES_256_XTS, require AES-256-XTS memory encryption.
    pub const MEM_AES_256_XTS: u64 = 1 << 22;
    /// Bit 25: PAGE_SWAP_DISABLE, the guest opts out of SNP_PAGE_MOVE / SWAP_OUT / SWAP_IN.
    pub const PAGE_SWAP_DISABLE: u64 = 1 << 25;
    /// The minimal policy of real captures (`0x30000`: SMT + bit 17).
    pub const MINIMAL: u64 = SMT | RSVD_MBO;
}

/// PLATFORM_INFO bits the memory model reports (snp.md §1.5).
pub mod platform_info {
    /// Bit 5: ALIAS_CHECK_COMPLETE, BadRAM alias detection done since reset, no aliases.
    pub const ALIAS_CHECK_COMPLETE: u64 = 1 << 5;
}

/// Processor generation, which decides the memory ciphers available (snp.md §4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Product {
    /// Zen 3: AES-128 XEX only.
    Milan,
    /// Zen 4: AES-128 XEX, or AES-256-XTS when the policy asks.
    Genoa,
    /// Zen 5: as Genoa.
    Turin,
}

impl Product {
    /// Lower-case name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Milan => "milan",
            Product::Genoa => "genoa",
            Product::Turin => "turin",
        }
    }

    /// Parses a lower-case product name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "milan" => Some(Product::Milan),
            "genoa" => Some(Product::Genoa),
            "turin" => Some(Product::Turin),
            _ => None,
        }
    }

    /// Whether the memory controller supports AES-256-XTS (Zen 4 and later).
    pub fn has_aes_256_xts(self) -> bool {
        !matches!(self, Product::Milan)
    }
}
