//! Measurement: MRTD by the TDX module's algorithm (tdx.md §4.1), the TDVF metadata that tells a VMM what
//! to add and extend (§4.2), RTMR extension and CCEL event-log replay (§4.3).

use sha2::{Digest, Sha384};
use sim_core::parse::{ParseError, ParseErrorKind, Reader};

/// Incremental MRTD: the SHA-384 context TDH.MNG.INIT starts in the TDCS.
#[derive(Clone, Debug, Default)]
pub struct MrtdBuilder {
    ctx: Sha384,
}

impl MrtdBuilder {
    /// A fresh context (TDH.MNG.INIT).
    pub fn new() -> Self {
        Self::default()
    }

    fn block(&mut self, name: &[u8], gpa: u64) {
        let mut b = [0u8; 128];
        if let Some(d) = b.get_mut(..name.len()) {
            d.copy_from_slice(name);
        }
        b[16..24].copy_from_slice(&gpa.to_le_bytes());
        self.ctx.update(b);
    }

    /// TDH.MEM.PAGE.ADD: one 128-byte block `"MEM.PAGE.ADD"` ‖ 0 ‖ GPA (u64 LE at 16) ‖ 0 (contents are not hashed).
    pub fn page_add(&mut self, gpa: u64) {
        self.block(b"MEM.PAGE.ADD", gpa);
    }

    /// TDH.MR.EXTEND: the 128-byte block `"MR.EXTEND"` with the GPA, then the 256 bytes at that GPA.
    pub fn mr_extend(&mut self, gpa: u64, chunk: &[u8; 256]) {
        self.block(b"MR.EXTEND", gpa);
        self.ctx.update(chunk);
    }

    /// TDH.MR.FINALIZE: the MRTD.
    pub fn finalize(self) -> [u8; 48] {
        self.ctx.finalize().into()
    }
}

/// `RTMR[i] = SHA-384(RTMR[i] ‖ data)` (TDG.MR.RTMR.EXTEND).
pub fn rtmr_extend(rtmr: &mut [u8; 48], data: &[u8; 48]) {
    let mut h = Sha384::new();
    h.update(*rtmr);
    h.update(data);
    rtmr.copy_from_slice(&h.finalize());
}

/// Footer GUID of the OVMF GUIDed table (96b582de-1fb2-45f7-baea-a366c55a082d), in byte order.
const TABLE_FOOTER_GUID: [u8; 16] = guid(
    0x96b5_82de,
    0x1fb2,
    0x45f7,
    [0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d],
);
/// TDX metadata offset GUID (e47a6535-984a-4798-865e-4685a7bf8ec2).
const TDX_METADATA_GUID: [u8; 16] = guid(
    0xe47a_6535,
    0x984a,
    0x4798,
    [0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2],
);

const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// A TDVF metadata section (32 bytes, tdx.md §4.2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TdvfSection {
    /// Offset of the section's data in the image.
    pub data_offset: u32,
    /// Bytes of data in the image.
    pub raw_data_size: u32,
    /// GPA of the section.
    pub memory_address: u64,
    /// Bytes of guest memory.
    pub memory_data_size: u64,
    /// 0 BFV, 1 CFV, 2 TD_HOB, 3 TempMem, 4 PermMem, 5 Payload, 6 PayloadParam.
    pub section_type: u32,
    /// bit 0 MR.EXTEND, bit 1 PAGE.AUG.
    pub attributes: u32,
}

/// Attribute bit: measure the section's contents with TDH.MR.EXTEND.
pub const TDVF_ATTR_MR_EXTEND: u32 = 1;
/// Attribute bit: pages are added later with TDH.MEM.PAGE.AUG (not measured).
pub const TDVF_ATTR_PAGE_AUG: u32 = 2;

/// Finds and parses the TDVF metadata of a firmware image (walking the OVMF GUIDed table from its footer
/// at `len - 0x20`).
pub fn tdvf_sections(fw: &[u8]) -> Result<Vec<TdvfSection>, ParseError> {
    let len = fw.len();
    let footer_off = len
        .checked_sub(0x20 + 18)
        .ok_or_else(|| ParseError::truncated("OVMF_TABLE_FOOTER", 0, 0x20 + 18, len))?;
    let mut r = Reader::with_base(fw.get(footer_off..).unwrap_or(&[]), footer_off);
    let table_len = usize::from(r.u16_le("OVMF_TABLE_LENGTH")?);
    let g: [u8; 16] = r.array("OVMF_TABLE_FOOTER_GUID")?;
    if g != TABLE_FOOTER_GUID {
        return Err(ParseError::invalid(
            "OVMF_TABLE_FOOTER_GUID",
            footer_off + 2,
            hex::encode(g),
            "an OVMF image ends its GUIDed table with 96b582de-1fb2-45f7-baea-a366c55a082d",
        ));
    }
    // The table occupies [footer_end - table_len, footer_end); entries are walked backwards.
    let footer_end = footer_off + 18;
    let table_start = footer_end.checked_sub(table_len).ok_or_else(|| {
        ParseError::new(
            "OVMF_TABLE_LENGTH",
            footer_off,
            ParseErrorKind::BadLength {
                value: table_len as u64,
                rule: "the GUIDed table cannot start before the image",
            },
        )
    })?;
    let mut end = footer_off; // entries before the footer entry
    let mut meta_off: Option<u32> = None;
    while end >= table_start + 18 {
        let mut e = Reader::with_base(fw.get(end - 18..end).unwrap_or(&[]), end - 18);
        let elen = usize::from(e.u16_le("OVMF_TABLE_ENTRY_LENGTH")?);
        let eg: [u8; 16] = e.array("OVMF_TABLE_ENTRY_GUID")?;
        if elen < 18 || elen > end - table_start {
            return Err(ParseError::new(
                "OVMF_TABLE_ENTRY_LENGTH",
                end - 18,
                ParseErrorKind::BadLength {
                    value: elen as u64,
                    rule: "an entry is at least 18 bytes and lies inside the table",
                },
            ));
        }
        if eg == TDX_METADATA_GUID {
            let mut d = Reader::with_base(fw.get(end - elen..end - 18).unwrap_or(&[]), end - elen);
            meta_off = Some(d.u32_le("TDX_METADATA_OFFSET")?);
            break;
        }
        end -= elen;
    }
    let meta_off = meta_off.ok_or_else(|| {
        ParseError::invalid(
            "TDX_METADATA_OFFSET",
            footer_off,
            "absent",
            "a TDVF image has the TDX metadata GUID e47a6535-984a-4798-865e-4685a7bf8ec2 in its table",
        )
    })?;
    let desc = len.checked_sub(meta_off as usize).ok_or_else(|| {
        ParseError::invalid(
            "TDX_METADATA_OFFSET",
            end,
            meta_off,
            "the offset counts back from the end of the image",
        )
    })?;
    let mut d = Reader::with_base(fw.get(desc..).unwrap_or(&[]), desc);
    let sig: [u8; 4] = d.array("TDVF_DESCRIPTOR.signature")?;
    if &sig != b"TDVF" {
        return Err(ParseError::invalid(
            "TDVF_DESCRIPTOR.signature",
            desc,
            hex::encode(sig),
            "the descriptor starts with \"TDVF\"",
        ));
    }
    let _length = d.u32_le("TDVF_DESCRIPTOR.length")?;
    let ver_off = d.offset();
    let version = d.u32_le("TDVF_DESCRIPTOR.version")?;
    if version != 1 {
        return Err(ParseError::invalid(
            "TDVF_DESCRIPTOR.version",
            ver_off,
            version,
            "TDVF metadata version 1",
        ));
    }
    let n = d.u32_le("TDVF_DESCRIPTOR.number_of_section_entries")?;
    let mut out = Vec::new();
    for _ in 0..n {
        let s = TdvfSection {
            data_offset: d.u32_le("TDVF_SECTION.data_offset")?,
            raw_data_size: d.u32_le("TDVF_SECTION.raw_data_size")?,
            memory_address: d.u64_le("TDVF_SECTION.memory_address")?,
            memory_data_size: d.u64_le("TDVF_SECTION.memory_data_size")?,
            section_type: d.u32_le("TDVF_SECTION.type")?,
            attributes: d.u32_le("TDVF_SECTION.attributes")?,
        };
        out.push(s);
    }
    Ok(out)
}

/// Order of PAGE.ADD and MR.EXTEND calls (dstack-mr `PageAddOrder`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageAddOrder {
    /// Per page: PAGE.ADD then its 16 MR.EXTENDs (current QEMU/KVM).
    SinglePass,
    /// All PAGE.ADDs of a section, then its MR.EXTENDs (older QEMU/KVM).
    TwoPass,
}

/// The MRTD a VMM produces for a TDVF image (tdx.md §4.2).
pub fn tdvf_mrtd(fw: &[u8], order: PageAddOrder) -> Result<[u8; 48], ParseError> {
    let sections = tdvf_sections(fw)?;
    let mut m = MrtdBuilder::new();
    for s in &sections {
        let pages = s.memory_data_size / 4096;
        let extend = s.attributes & TDVF_ATTR_MR_EXTEND != 0;
        let add = s.attributes & TDVF_ATTR_PAGE_AUG == 0;
        let chunk = |page: u64, i: u64| -> Result<[u8; 256], ParseError> {
            let off = u64::from(s.data_offset) + page * 4096 + i * 256;
            let o = usize::try_from(off).unwrap_or(usize::MAX);
            let mut c = [0u8; 256];
            let src = fw.get(o..o.saturating_add(256)).ok_or_else(|| {
                ParseError::truncated("TDVF_SECTION.data", o, 256, fw.len().saturating_sub(o))
            })?;
            c.copy_from_slice(src);
            Ok(c)
        };
        match order {
            PageAddOrder::SinglePass => {
                for p in 0..pages {
                    let gpa = s.memory_address + p * 4096;
                    if add {
                        m.page_add(gpa);
                    }
                    if extend {
                        for i in 0..16 {
                            m.mr_extend(gpa + i * 256, &chunk(p, i)?);
                        }
                    }
                }
            }
            PageAddOrder::TwoPass => {
                if add {
                    for p in 0..pages {
                        m.page_add(s.memory_address + p * 4096);
                    }
                }
                if extend {
                    for p in 0..pages {
                        for i in 0..16 {
                            m.mr_extend(s.memory_address + p * 4096 + i * 256, &chunk(p, i)?);
                        }
                    }
                }
            }
        }
    }
    Ok(m.finalize())
}

/// One replayed CCEL event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CcelEvent {
    /// CC measurement-register index (1..4 = RTMR0..3).
    pub mr_index: u32,
    /// Event type.
    pub event_type: u32,
    /// SHA-384 digest.
    pub digest: String,
}

/// The TDG.MR.RTMR.EXTEND calls a CCEL records: (RTMR index 0..3, SHA-384 digest) for every event with a
/// CC measurement-register index 1..4, in log order.
pub fn ccel_rtmr_extends(log: &[u8]) -> Result<Vec<(u64, [u8; 48])>, ParseError> {
    let (_, events) = ccel_replay(log)?;
    Ok(events
        .iter()
        .filter(|e| (1..=4).contains(&e.mr_index))
        .filter_map(|e| {
            let d = hex::decode(&e.digest).ok()?;
            Some((
                u64::from(e.mr_index) - 1,
                <[u8; 48]>::try_from(d.as_slice()).ok()?,
            ))
        })
        .collect())
}

/// Replays a CCEL (TCG2 crypto-agile log with SHA-384) into RTMR0..3; returns the RTMRs and the events.
/// The log ends at the first event whose type is 0xFFFFFFFF or 0 with zero digest size, or at the end.
pub fn ccel_replay(log: &[u8]) -> Result<([[u8; 48]; 4], Vec<CcelEvent>), ParseError> {
    let mut r = Reader::new(log);
    // First event: TCG_PCClientPCREvent (SHA-1 format) carrying the Spec ID event.
    let _pcr = r.u32_le("TCG_PCR_EVENT.pcrIndex")?;
    let _ty = r.u32_le("TCG_PCR_EVENT.eventType")?;
    r.take("TCG_PCR_EVENT.digest", 20)?;
    let sz = r.u32_le("TCG_PCR_EVENT.eventSize")? as usize;
    let spec = r.take("TCG_PCR_EVENT.event", sz)?;
    // Spec ID event: signature(16) platformClass(4) versions(3) uintnSize(1) numberOfAlgorithms(4) {algId u16, size u16}*
    let mut s = Reader::with_base(spec, r.offset() - sz);
    s.take("TCG_EfiSpecIDEvent.header", 24)?;
    let nalg = s.u32_le("TCG_EfiSpecIDEvent.numberOfAlgorithms")?;
    let mut sizes = Vec::new();
    for _ in 0..nalg {
        let id = s.u16_le("TCG_EfiSpecIDEvent.algorithmId")?;
        let size = s.u16_le("TCG_EfiSpecIDEvent.digestSize")?;
        sizes.push((id, usize::from(size)));
    }
    let mut rtmr = [[0u8; 48]; 4];
    let mut events = Vec::new();
    while r.remaining() >= 8 {
        let mr_off = r.offset();
        let mr = r.u32_le("TCG_PCR_EVENT2.pcrIndex")?;
        let ty = r.u32_le("TCG_PCR_EVENT2.eventType")?;
        if ty == 0xFFFF_FFFF || (mr == 0xFFFF_FFFF) || (mr == 0 && ty == 0) {
            break;
        }
        let count = r.u32_le("TCG_PCR_EVENT2.digests.count")?;
        let mut sha384: Option<[u8; 48]> = None;
        for _ in 0..count {
            let alg_off = r.offset();
            let alg = r.u16_le("TPMT_HA.hashAlg")?;
            let size = sizes
                .iter()
                .find(|(id, _)| *id == alg)
                .map(|(_, s)| *s)
                .ok_or_else(|| {
                    ParseError::invalid(
                        "TPMT_HA.hashAlg",
                        alg_off,
                        format!("0x{alg:04x}"),
                        "digest algorithms must be declared in the Spec ID event",
                    )
                })?;
            let d = r.take("TPMT_HA.digest", size)?;
            if alg == 0x000C {
                let mut a = [0u8; 48];
                a.copy_from_slice(d.get(..48).unwrap_or(&[0u8; 48]));
                sha384 = Some(a);
            }
        }
        let esz = r.u32_le("TCG_PCR_EVENT2.eventSize")? as usize;
        r.take("TCG_PCR_EVENT2.event", esz)?;
        let digest = sha384.ok_or_else(|| {
            ParseError::invalid(
                "TCG_PCR_EVENT2.digests",
                mr_off,
                "no SHA-384",
                "CCEL events carry a SHA-384 digest",
            )
        })?;
        if (1..=4).contains(&mr) {
            if let Some(reg) = rtmr.get_mut(mr as usize - 1) {
                rtmr_extend(reg, &digest);
            }
        }
        events.push(CcelEvent {
            mr_index: mr,
            event_type: ty,
            digest: hex::encode(digest),
        });
    }
    Ok((rtmr, events))
}
