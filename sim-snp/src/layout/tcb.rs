//! TCB_VERSION (8 bytes, byte-indexed), whose layout depends on the product (snp.md §1.3).
//!
//! | byte | Milan / Genoa | Turin |
//! |---|---|---|
//! | 0 | BOOT_LOADER | FMC |
//! | 1 | TEE | BOOT_LOADER |
//! | 2 | reserved | TEE |
//! | 3 | reserved | SNP |
//! | 4-5 | reserved | reserved |
//! | 6 | SNP | reserved |
//! | 7 | MICROCODE | MICROCODE |

use serde::{Deserialize, Serialize};

use crate::product::TcbLayout;

/// The security version numbers of a TCB, independent of their byte layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcbVersion {
    /// FMC SVN (Turin only; `None` for Milan/Genoa).
    pub fmc: Option<u8>,
    /// PSP boot loader SVN.
    pub bootloader: u8,
    /// PSP OS (TEE) SVN.
    pub tee: u8,
    /// SNP firmware SVN.
    pub snp: u8,
    /// Lowest microcode patch level of all cores (low byte).
    pub microcode: u8,
}

/// A TCB_VERSION whose reserved bytes are not zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TCB_VERSION reserved byte {index} is 0x{value:02x}, must be zero")]
pub struct TcbReservedNonZero {
    /// Byte index within the 8-byte TCB_VERSION.
    pub index: usize,
    /// Its value.
    pub value: u8,
}

impl TcbVersion {
    /// A Milan/Genoa TCB.
    pub const fn legacy(bootloader: u8, tee: u8, snp: u8, microcode: u8) -> Self {
        TcbVersion {
            fmc: None,
            bootloader,
            tee,
            snp,
            microcode,
        }
    }

    /// A Turin TCB.
    pub const fn turin(fmc: u8, bootloader: u8, tee: u8, snp: u8, microcode: u8) -> Self {
        TcbVersion {
            fmc: Some(fmc),
            bootloader,
            tee,
            snp,
            microcode,
        }
    }

    /// Byte indices of the reserved bytes in `layout`.
    pub fn reserved_indices(layout: TcbLayout) -> &'static [usize] {
        match layout {
            TcbLayout::Legacy => &[2, 3, 4, 5],
            TcbLayout::Turin => &[4, 5, 6],
        }
    }

    /// Decodes 8 bytes in `layout`, ignoring reserved bytes (see [`TcbVersion::check_reserved`]).
    pub fn from_bytes(b: [u8; 8], layout: TcbLayout) -> Self {
        match layout {
            TcbLayout::Legacy => TcbVersion::legacy(b[0], b[1], b[6], b[7]),
            TcbLayout::Turin => TcbVersion::turin(b[0], b[1], b[2], b[3], b[7]),
        }
    }

    /// Decodes a little-endian u64 in `layout`.
    pub fn from_u64(v: u64, layout: TcbLayout) -> Self {
        Self::from_bytes(v.to_le_bytes(), layout)
    }

    /// Checks that the reserved bytes of `b` in `layout` are zero.
    pub fn check_reserved(b: [u8; 8], layout: TcbLayout) -> Result<(), TcbReservedNonZero> {
        for &i in Self::reserved_indices(layout) {
            if b[i] != 0 {
                return Err(TcbReservedNonZero {
                    index: i,
                    value: b[i],
                });
            }
        }
        Ok(())
    }

    /// Encodes in `layout`. A Turin layout with no FMC SVN writes FMC 0.
    pub fn to_bytes(&self, layout: TcbLayout) -> [u8; 8] {
        let mut b = [0u8; 8];
        match layout {
            TcbLayout::Legacy => {
                b[0] = self.bootloader;
                b[1] = self.tee;
                b[6] = self.snp;
                b[7] = self.microcode;
            }
            TcbLayout::Turin => {
                b[0] = self.fmc.unwrap_or(0);
                b[1] = self.bootloader;
                b[2] = self.tee;
                b[3] = self.snp;
                b[7] = self.microcode;
            }
        }
        b
    }

    /// Encodes as a little-endian u64 in `layout`.
    pub fn to_u64(&self, layout: TcbLayout) -> u64 {
        u64::from_le_bytes(self.to_bytes(layout))
    }

    /// Component-wise `self <= other` (never compared as a u64; go-sev-guest `TCBPartsLE`).
    pub fn le(&self, other: &TcbVersion) -> bool {
        self.fmc.unwrap_or(0) <= other.fmc.unwrap_or(0)
            && self.bootloader <= other.bootloader
            && self.tee <= other.tee
            && self.snp <= other.snp
            && self.microcode <= other.microcode
    }

    /// Parses `bl=N,tee=N,snp=N,ucode=N[,fmc=N]` (the `--tcb` argument).
    pub fn parse_arg(s: &str) -> Result<TcbVersion, String> {
        let mut t = TcbVersion::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("--tcb: {part:?} is not NAME=VALUE"))?;
            let v: u8 = v
                .trim()
                .parse()
                .map_err(|_| format!("--tcb: {k}={v} is not a number 0-255"))?;
            match k.trim() {
                "bl" | "boot_loader" | "bootloader" => t.bootloader = v,
                "tee" => t.tee = v,
                "snp" => t.snp = v,
                "ucode" | "microcode" => t.microcode = v,
                "fmc" => t.fmc = Some(v),
                other => {
                    return Err(format!(
                        "--tcb: unknown component {other:?} (bl, tee, snp, ucode, fmc)"
                    ))
                }
            }
        }
        Ok(t)
    }
}

impl std::fmt::Display for TcbVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc},")?;
        }
        write!(
            f,
            "bl={},tee={},snp={},ucode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_real_captures() {
        // snp.md §1.3 [verified]: Turin report TCB 01 01 01 04 00 00 00 51 <-> fmc=1 bl=1 tee=1 snp=4 ucode=81.
        let t = TcbVersion::from_bytes([1, 1, 1, 4, 0, 0, 0, 0x51], TcbLayout::Turin);
        assert_eq!(t, TcbVersion::turin(1, 1, 1, 4, 81));
        // Milan 04 00 00 00 00 00 18 db <-> bl=4 tee=0 snp=24 ucode=219.
        let m = TcbVersion::from_bytes([4, 0, 0, 0, 0, 0, 0x18, 0xdb], TcbLayout::Legacy);
        assert_eq!(m, TcbVersion::legacy(4, 0, 24, 219));
        assert_eq!(
            m.to_bytes(TcbLayout::Legacy),
            [4, 0, 0, 0, 0, 0, 0x18, 0xdb]
        );
    }

    #[test]
    fn comparison_is_componentwise() {
        let a = TcbVersion::legacy(3, 0, 8, 115);
        let b = TcbVersion::legacy(4, 0, 7, 200);
        assert!(!a.le(&b) && !b.le(&a));
        assert!(a.le(&TcbVersion::legacy(3, 0, 8, 115)));
    }

    #[test]
    fn reserved_bytes_depend_on_the_layout() {
        assert!(TcbVersion::check_reserved([0, 0, 0, 5, 0, 0, 0, 0], TcbLayout::Turin).is_ok());
        assert_eq!(
            TcbVersion::check_reserved([0, 0, 0, 5, 0, 0, 0, 0], TcbLayout::Legacy),
            Err(TcbReservedNonZero { index: 3, value: 5 })
        );
        assert!(TcbVersion::check_reserved([0, 0, 0, 0, 0, 0, 7, 0], TcbLayout::Turin).is_err());
    }

    #[test]
    fn parses_the_cli_argument() {
        assert_eq!(
            TcbVersion::parse_arg("bl=4,tee=0,snp=24,ucode=219").unwrap(),
            TcbVersion::legacy(4, 0, 24, 219)
        );
        assert_eq!(
            TcbVersion::parse_arg("fmc=1,bl=1,tee=1,snp=4,ucode=81").unwrap(),
            TcbVersion::turin(1, 1, 1, 4, 81)
        );
        assert!(TcbVersion::parse_arg("bl=300").is_err());
        assert!(TcbVersion::parse_arg("xyz=1").is_err());
    }
}
