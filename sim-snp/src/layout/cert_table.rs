//! The extended-report certificate table — GHCB spec 56421 §4.1.8.1 (snp.md §2.4): 24-byte entries
//! `{GUID[16], OFFSET u32, LENGTH u32}` terminated by an all-zero entry; offsets count from the start of
//! the buffer; GUIDs in RFC 4122 byte order.

use sim_core::parse::{ParseError, Reader};

/// GUID of the ARK entry, `c0b406a4-a803-4952-9743-3fb6014cd0ae`.
pub const GUID_ARK: [u8; 16] = guid("c0b406a4a803495297433fb6014cd0ae");
/// GUID of the ASK (and ASVK) entry, `4ab7b379-bbac-4fe4-a02f-05aef327c782`.
pub const GUID_ASK: [u8; 16] = guid("4ab7b379bbac4fe4a02f05aef327c782");
/// GUID of the VCEK entry, `63da758d-e664-4564-adc5-f4b93be8accd`.
pub const GUID_VCEK: [u8; 16] = guid("63da758de6644564adc5f4b93be8accd");
/// GUID of the VLEK entry, `a8074bc2-a25a-483e-aae6-39c045a0b8a1`.
pub const GUID_VLEK: [u8; 16] = guid("a8074bc2a25a483eaae639c045a0b8a1");
/// GUID of the CRL entry (virtee/sev), `92f81bc3-5811-4d3d-97ff-d19f88dc67ea`.
pub const GUID_CRL: [u8; 16] = guid("92f81bc358114d3d97ffd19f88dc67ea");

const fn guid(hex: &str) -> [u8; 16] {
    sim_core::hexarg::decode_const(hex)
}

/// One entry of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertTableEntry {
    /// GUID, RFC 4122 byte order.
    pub guid: [u8; 16],
    /// The DER blob.
    pub data: Vec<u8>,
}

impl CertTableEntry {
    /// The GUID as a lowercase hyphenated string.
    pub fn guid_string(&self) -> String {
        let h = hex::encode(self.guid);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

/// Encodes a table: the header entries, the terminator, then the blobs in order.
pub fn encode(entries: &[CertTableEntry]) -> Vec<u8> {
    let header_len = 24 * (entries.len() + 1);
    let mut out =
        Vec::with_capacity(header_len + entries.iter().map(|e| e.data.len()).sum::<usize>());
    let mut offset = header_len;
    for e in entries {
        out.extend_from_slice(&e.guid);
        out.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(e.data.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        offset += e.data.len();
    }
    out.extend_from_slice(&[0u8; 24]);
    for e in entries {
        out.extend_from_slice(&e.data);
    }
    out
}

/// Decodes a table; every offset must point past the header and every blob lie inside the buffer.
pub fn decode(buf: &[u8]) -> Result<Vec<CertTableEntry>, ParseError> {
    let mut r = Reader::new(buf);
    let mut raw = Vec::new();
    loop {
        let at = r.offset();
        let guid: [u8; 16] = r.array("CERT_TABLE.GUID")?;
        let offset = r.u32_le("CERT_TABLE.OFFSET")?;
        let length = r.u32_le("CERT_TABLE.LENGTH")?;
        if guid == [0; 16] && offset == 0 && length == 0 {
            break;
        }
        raw.push((at, guid, offset, length));
    }
    let header_end = r.offset();
    let mut out = Vec::new();
    for (at, guid, offset, length) in raw {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let len = usize::try_from(length).unwrap_or(usize::MAX);
        if start < header_end {
            return Err(ParseError::invalid(
                "CERT_TABLE.OFFSET",
                at + 16,
                offset,
                "offset points into the table header",
            ));
        }
        let data = start
            .checked_add(len)
            .and_then(|end| buf.get(start..end))
            .ok_or_else(|| {
                ParseError::truncated(
                    "CERT_TABLE.LENGTH",
                    at + 20,
                    len,
                    buf.len().saturating_sub(start),
                )
            })?;
        out.push(CertTableEntry {
            guid,
            data: data.to_vec(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_rfc4122_byte_order() {
        assert_eq!(GUID_VCEK[0..4], [0x63, 0xda, 0x75, 0x8d]);
        let e = CertTableEntry {
            guid: GUID_ARK,
            data: vec![],
        };
        assert_eq!(e.guid_string(), "c0b406a4-a803-4952-9743-3fb6014cd0ae");
    }

    #[test]
    fn round_trip_and_bad_offsets() {
        let entries = vec![
            CertTableEntry {
                guid: GUID_ARK,
                data: vec![1, 2, 3],
            },
            CertTableEntry {
                guid: GUID_VCEK,
                data: vec![9; 10],
            },
        ];
        let buf = encode(&entries);
        assert_eq!(buf.len(), 72 + 13);
        assert_eq!(u32::from_le_bytes(buf[16..20].try_into().unwrap()), 72);
        assert_eq!(decode(&buf).unwrap(), entries);
        let mut bad = buf.clone();
        bad[16] = 8; // offset 8: inside the header
        assert_eq!(decode(&bad).unwrap_err().field, "CERT_TABLE.OFFSET");
        let e = decode(&buf[..80]).unwrap_err();
        assert_eq!(e.field, "CERT_TABLE.LENGTH");
        assert_eq!(e.offset, 24 + 20);
    }
}
