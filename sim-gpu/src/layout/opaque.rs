//! Opaque data of the MEASUREMENTS response: NVIDIA's legacy TLV format (gpu.md §2).
//!
//! A sequence of `[type u16 LE][len u16 LE][value]`. NVIDIA's Python verifier fails on an unknown
//! type and trustee fails on a duplicate, so both are parse errors here too.

use sim_core::parse::{ParseError, Reader};

/// OPAQUE_FIELD_ID_* type numbers (gpu.md §2 table; NVAT `gpu_opaque_data_parser.hpp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(non_camel_case_types)]
#[allow(missing_docs)]
#[repr(u16)]
pub enum OpaqueType {
    CERT_ISSUER_NAME = 1,
    CERT_AUTHORITY_KEY_IDENTIFIER = 2,
    DRIVER_VERSION = 3,
    GPU_INFO = 4,
    SKU = 5,
    VBIOS_VERSION = 6,
    MANUFACTURER_ID = 7,
    TAMPER_DETECTION = 8,
    SMC = 9,
    VPR = 10,
    NVDEC0_STATUS = 11,
    MSRSCNT = 12,
    CPRINFO = 13,
    BOARD_ID = 14,
    CHIP_SKU = 15,
    CHIP_SKU_MOD = 16,
    PROJECT = 17,
    PROJECT_SKU = 18,
    PROJECT_SKU_MOD = 19,
    FWID = 20,
    PROTECTED_PCIE_STATUS = 21,
    SWITCH_PDI = 22,
    FLOORSWEPT_PORTS = 23,
    POSITION_ID = 24,
    LOCK_SWITCH_STATUS = 25,
    GPU_LINK_CONN = 32,
    SYS_ENABLE_STATUS = 33,
    OPAQUE_DATA_VERSION = 34,
    CHIP_INFO = 35,
    FEATURE_FLAG = 36,
    INVALID = 255,
}

impl OpaqueType {
    /// Every known type.
    pub const ALL: [OpaqueType; 31] = [
        Self::CERT_ISSUER_NAME,
        Self::CERT_AUTHORITY_KEY_IDENTIFIER,
        Self::DRIVER_VERSION,
        Self::GPU_INFO,
        Self::SKU,
        Self::VBIOS_VERSION,
        Self::MANUFACTURER_ID,
        Self::TAMPER_DETECTION,
        Self::SMC,
        Self::VPR,
        Self::NVDEC0_STATUS,
        Self::MSRSCNT,
        Self::CPRINFO,
        Self::BOARD_ID,
        Self::CHIP_SKU,
        Self::CHIP_SKU_MOD,
        Self::PROJECT,
        Self::PROJECT_SKU,
        Self::PROJECT_SKU_MOD,
        Self::FWID,
        Self::PROTECTED_PCIE_STATUS,
        Self::SWITCH_PDI,
        Self::FLOORSWEPT_PORTS,
        Self::POSITION_ID,
        Self::LOCK_SWITCH_STATUS,
        Self::GPU_LINK_CONN,
        Self::SYS_ENABLE_STATUS,
        Self::OPAQUE_DATA_VERSION,
        Self::CHIP_INFO,
        Self::FEATURE_FLAG,
        Self::INVALID,
    ];

    /// The type for a number, if known.
    pub fn from_u16(v: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| *t as u16 == v)
    }

    /// NVIDIA's name, `OPAQUE_FIELD_ID_<NAME>`.
    pub fn nvidia_name(self) -> String {
        format!("OPAQUE_FIELD_ID_{self:?}")
    }
}

/// One TLV of the opaque data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaqueField {
    /// The type.
    pub kind: OpaqueType,
    /// The value bytes.
    pub value: Vec<u8>,
    /// Absolute offset of the TLV's type field in the report.
    pub offset: usize,
}

/// The opaque data: its TLVs in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpaqueData {
    /// TLVs in the order they appear.
    pub fields: Vec<OpaqueField>,
}

impl OpaqueData {
    /// Parses TLVs from `bytes`, whose first byte is at absolute offset `base`.
    pub fn parse(bytes: &[u8], base: usize) -> Result<Self, ParseError> {
        let mut r = Reader::with_base(bytes, base);
        let mut fields: Vec<OpaqueField> = Vec::new();
        while r.remaining() > 0 {
            let offset = r.offset();
            let t = r.u16_le("OpaqueData.Type")?;
            let kind = OpaqueType::from_u16(t).ok_or_else(|| {
                ParseError::invalid(
                    "OpaqueData.Type",
                    offset,
                    t,
                    "unknown opaque field type (NVIDIA's verifier rejects it)",
                )
            })?;
            if fields.iter().any(|f| f.kind == kind) {
                return Err(ParseError::invalid(
                    "OpaqueData.Type",
                    offset,
                    t,
                    "duplicate opaque field type (trustee rejects it)",
                ));
            }
            let len = r.u16_le("OpaqueData.Length")?;
            let value = r.take("OpaqueData.Value", usize::from(len))?.to_vec();
            fields.push(OpaqueField {
                kind,
                value,
                offset,
            });
        }
        Ok(OpaqueData { fields })
    }

    /// Encodes the TLVs in order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.fields {
            out.extend_from_slice(&(f.kind as u16).to_le_bytes());
            let len = u16::try_from(f.value.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&f.value[..usize::from(len)]);
        }
        out
    }

    /// Appends a field (offset recomputed on encode/parse; 0 here).
    pub fn push(&mut self, kind: OpaqueType, value: Vec<u8>) {
        self.fields.push(OpaqueField {
            kind,
            value,
            offset: 0,
        });
    }

    /// The value of a field, if present.
    pub fn get(&self, kind: OpaqueType) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.kind == kind)
            .map(|f| f.value.as_slice())
    }

    /// A NUL-terminated / NUL-padded ASCII field as a string (bytes up to the first NUL).
    pub fn ascii(&self, kind: OpaqueType) -> Option<String> {
        let v = self.get(kind)?;
        let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
        Some(String::from_utf8_lossy(&v[..end]).into_owned())
    }

    /// DRIVER_VERSION, e.g. `550.90.07`.
    pub fn driver_version(&self) -> Option<String> {
        self.ascii(OpaqueType::DRIVER_VERSION)
    }

    /// VBIOS_VERSION formatted as NVIDIA does (`96.00.9f.00.01`, lower case; gpu.md §2).
    pub fn vbios_version(&self) -> Option<String> {
        let v: [u8; 8] = self.get(OpaqueType::VBIOS_VERSION)?.try_into().ok()?;
        Some(format_vbios_version(v))
    }

    /// FWID (48 bytes), if present and 48 bytes long.
    pub fn fwid(&self) -> Option<[u8; 48]> {
        self.get(OpaqueType::FWID)?.try_into().ok()
    }

    /// MSRSCNT as 32-bit counts.
    pub fn msrscnt(&self) -> Option<Vec<u32>> {
        let v = self.get(OpaqueType::MSRSCNT)?;
        Some(
            v.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

/// NVIDIA's VBIOS version string from the 8 opaque bytes (LGV `format_vbios_version`): read the bytes
/// as a little-endian u64, print 16 hex digits `h`, take `h[8..16] + h[6..8]`, dot every pair.
pub fn format_vbios_version(v: [u8; 8]) -> String {
    let h = format!("{:016x}", u64::from_le_bytes(v));
    let s = format!("{}{}", &h[8..16], &h[6..8]);
    let pairs: Vec<&str> = (0..5).map(|i| &s[2 * i..2 * i + 2]).collect();
    pairs.join(".")
}

/// The 8 opaque bytes for a VBIOS version `96.00.74.00.1A` (inverse of [`format_vbios_version`]).
pub fn encode_vbios_version(s: &str) -> Option<[u8; 8]> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 5
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    let joined = parts.concat();
    // h = "000000" + p4 + p0p1p2p3  (16 hex digits of the LE u64)
    let h = format!("000000{}{}", &joined[8..10], &joined[0..8]);
    let v = u64::from_str_radix(&h, 16).ok()?;
    Some(v.to_le_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vbios_version_matches_nvidias_examples() {
        // gpu.md §2 examples, from LGV format_vbios_version.
        let a: [u8; 8] = hex::decode("009f009601000000").unwrap().try_into().unwrap();
        assert_eq!(format_vbios_version(a), "96.00.9f.00.01");
        let b: [u8; 8] = hex::decode("007400961a000000").unwrap().try_into().unwrap();
        assert_eq!(format_vbios_version(b), "96.00.74.00.1a");
        assert_eq!(encode_vbios_version("96.00.74.00.1A"), Some(b));
        assert_eq!(encode_vbios_version("96.00.74.00"), None);
    }

    #[test]
    fn unknown_and_duplicate_types_are_errors_with_offsets() {
        let mut b = vec![3u8, 0, 1, 0, b'x', 99, 0, 0, 0];
        let e = OpaqueData::parse(&b, 0x100).unwrap_err();
        assert_eq!((e.field, e.offset), ("OpaqueData.Type", 0x105));
        b.truncate(5);
        b.extend([3, 0, 0, 0]);
        let e = OpaqueData::parse(&b, 0).unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.to_string().contains("duplicate"));
    }
}
