//! SEV-SNP products (CPU generations) and what depends on them: CPUID family/model/stepping, the
//! TCB_VERSION layout, the KDS product name and the VCEK `productName` extension (snp.md §1.3, §2.2).

use serde::{Deserialize, Serialize};

/// An SEV-SNP product line, as the KDS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Product {
    /// EPYC 7003 (Zen 3), family 0x19 model 0x01.
    Milan,
    /// EPYC 9004 (Zen 4), family 0x19 model 0x11 (Bergamo and Siena are "Genoa" for the KDS).
    Genoa,
    /// EPYC 9005 (Zen 5), family 0x1A model 0x02.
    Turin,
}

/// The byte layout of TCB_VERSION (snp.md §1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcbLayout {
    /// Milan and Genoa (VCEK structVersion 0): BL @0, TEE @1, SNP @6, MICROCODE @7.
    Legacy,
    /// Turin (VCEK structVersion 1): FMC @0, BL @1, TEE @2, SNP @3, MICROCODE @7.
    Turin,
}

impl Product {
    /// All products, oldest first.
    pub const ALL: [Product; 3] = [Product::Milan, Product::Genoa, Product::Turin];

    /// KDS path component and certificate CN suffix (`Milan`, `Genoa`, `Turin`).
    pub fn name(self) -> &'static str {
        match self {
            Product::Milan => "Milan",
            Product::Genoa => "Genoa",
            Product::Turin => "Turin",
        }
    }

    /// Lowercase name used on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Product::Milan => "milan",
            Product::Genoa => "genoa",
            Product::Turin => "turin",
        }
    }

    /// Parses a product name (case-insensitive); Bergamo and Siena are Genoa for the KDS.
    pub fn parse(s: &str) -> Option<Product> {
        match s.to_ascii_lowercase().as_str() {
            "milan" => Some(Product::Milan),
            "genoa" | "bergamo" | "siena" => Some(Product::Genoa),
            "turin" => Some(Product::Turin),
            _ => None,
        }
    }

    /// The VCEK `productName` extension value as the real KDS writes it: `Milan-B0` (even on stepping-1
    /// parts), `Genoa` (no stepping), `Turin` (snp.md §2.2, verified on real VCEKs).
    pub fn vcek_product_name(self) -> &'static str {
        match self {
            Product::Milan => "Milan-B0",
            Product::Genoa => "Genoa",
            Product::Turin => "Turin",
        }
    }

    /// CPUID combined family, model and stepping written into reports v3+ (values of real captures).
    pub fn cpuid_fms(self) -> (u8, u8, u8) {
        match self {
            Product::Milan => (0x19, 0x01, 0x01),
            Product::Genoa => (0x19, 0x11, 0x01),
            Product::Turin => (0x1A, 0x02, 0x01),
        }
    }

    /// Identifies the product from CPUID family and model (snp.md §1.3, VSEV `Generation::identify_cpu`).
    /// Venice (family 0x1A models 0x50-0x57, 0x90-0xAF, 0xC0-0xC7) is not modelled and gives `None`.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Product> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Product::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(Product::Genoa),
            (0x1A, 0x00..=0x11) => Some(Product::Turin),
            _ => None,
        }
    }

    /// The TCB_VERSION layout of this product.
    pub fn tcb_layout(self) -> TcbLayout {
        match self {
            Product::Milan | Product::Genoa => TcbLayout::Legacy,
            Product::Turin => TcbLayout::Turin,
        }
    }

    /// VCEK `structVersion` extension value: 0 Milan/Genoa, 1 Turin.
    pub fn vcek_struct_version(self) -> u8 {
        match self {
            Product::Milan | Product::Genoa => 0,
            Product::Turin => 1,
        }
    }

    /// Length of the VCEK `hwID` extension and of the meaningful CHIP_ID: 64 bytes, Turin 8.
    pub fn hwid_len(self) -> usize {
        match self {
            Product::Milan | Product::Genoa => 64,
            Product::Turin => 8,
        }
    }

    /// Serial numbers of AMD's ARK, ASK and ASVK for this product (snp.md §2.1).
    pub fn ca_serials(self) -> (u32, u32, u32) {
        match self {
            Product::Milan => (0x010000, 0x010001, 0x010101),
            Product::Genoa => (0x020000, 0x020002, 0x020101),
            Product::Turin => (0x030000, 0x030001, 0x030101),
        }
    }

    /// Firmware version (MAJOR, MINOR, BUILD) a simulated chip of this product runs by default: a
    /// version whose real firmware emits report version 5 (snp.md §1.1: Genoa 1.55.49, Turin 1.55.65).
    pub fn default_firmware(self) -> (u8, u8, u8) {
        match self {
            Product::Milan => (1, 55, 29),
            Product::Genoa => (1, 55, 49),
            Product::Turin => (1, 55, 65),
        }
    }

    /// Whether the memory controller of this product supports AES-256-XTS (Zen 4 and later).
    pub fn supports_aes256_xts(self) -> bool {
        !matches!(self, Product::Milan)
    }
}

impl std::fmt::Display for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_identification_matches_the_real_captures() {
        // cpuid_fms of the captures (snp README): Milan 190101, Genoa 191101, Turin 1a0201.
        assert_eq!(Product::from_cpuid(0x19, 0x01), Some(Product::Milan));
        assert_eq!(Product::from_cpuid(0x19, 0x11), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x19, 0xA0), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x1A, 0x02), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x1A, 0x50), None);
        assert_eq!(Product::from_cpuid(0x17, 0x31), None);
        for p in Product::ALL {
            let (f, m, _) = p.cpuid_fms();
            assert_eq!(Product::from_cpuid(f, m), Some(p));
        }
    }
}
