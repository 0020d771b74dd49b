//! The expected launch digest of an OVMF guest, computed as sev-snp-measure 0.0.13 computes it (snp.md
//! §3.3; virtee/sev-snp-measure `guest.py`, `ovmf.py`, `gctx.py`, `vmsa.py`, `sev_hashes.py`).
//!
//! [`launch_plan`] lists the SNP_LAUNCH_UPDATE commands a VMM issues for the image (OVMF pages ending at
//! 4 GiB, the metadata sections, the kernel-hashes page, one VMSA per vCPU); [`launch_digest`] folds
//! them through PAGE_INFO, and the Secure Processor model ([`crate::sp`]) executes the same plan, so a
//! simulated report's MEASUREMENT equals the expected digest by construction of one code path.

use sha2::{Digest, Sha256};
use sim_core::parse::{ParseError, ParseErrorKind};

use crate::layout::page_info::PageType;
use crate::sp::launch::{page_info_digest, PAGE_SIZE, VMSA_GPA};

/// OVMF footer table GUID `96b582de-1fb2-45f7-baea-a366c55a082d` (little-endian bytes).
pub const OVMF_TABLE_FOOTER_GUID: [u8; 16] = guid_le("96b582de-1fb2-45f7-baea-a366c55a082d");
/// SEV hash table GUID `7255371f-3a3b-4b04-927b-1da6efa8d454`.
pub const SEV_HASH_TABLE_RV_GUID: [u8; 16] = guid_le("7255371f-3a3b-4b04-927b-1da6efa8d454");
/// SEV-ES reset block GUID `00f771de-1a7e-4fcb-890e-68c77e2fb44e`.
pub const SEV_ES_RESET_BLOCK_GUID: [u8; 16] = guid_le("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
/// OVMF SEV metadata GUID `dc886566-984a-4798-a75e-5585a7bf67cc`.
pub const OVMF_SEV_META_DATA_GUID: [u8; 16] = guid_le("dc886566-984a-4798-a75e-5585a7bf67cc");
/// Kernel hashes table header GUID `9438d606-4f22-4cc9-b479-a793d411fd21`.
pub const SEV_HASH_TABLE_HEADER_GUID: [u8; 16] = guid_le("9438d606-4f22-4cc9-b479-a793d411fd21");
/// Kernel entry GUID.
pub const SEV_KERNEL_ENTRY_GUID: [u8; 16] = guid_le("4de79437-abd2-427f-b835-d5b172d2045b");
/// Initrd entry GUID.
pub const SEV_INITRD_ENTRY_GUID: [u8; 16] = guid_le("44baf731-3a2f-4bd7-9af1-41e29169781d");
/// Command-line entry GUID.
pub const SEV_CMDLINE_ENTRY_GUID: [u8; 16] = guid_le("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");

/// A GUID string in the mixed-endian EFI byte layout (`uuid.bytes_le`).
const fn guid_le(s: &str) -> [u8; 16] {
    let h: [u8; 16] = sim_core::hexarg::decode_const(s);
    [
        h[3], h[2], h[1], h[0], h[5], h[4], h[7], h[6], h[8], h[9], h[10], h[11], h[12], h[13],
        h[14], h[15],
    ]
}

/// OVMF SEV metadata section types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionType {
    /// 1: SNP_SEC_MEM (zero pages; unmeasured on GCE).
    SnpSecMem,
    /// 2: SNP_SECRETS.
    SnpSecrets,
    /// 3: CPUID.
    Cpuid,
    /// 4: SVSM_CAA (zero pages).
    SvsmCaa,
    /// 0x10: SNP_KERNEL_HASHES.
    SnpKernelHashes,
}

/// One OVMF SEV metadata section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// GPA.
    pub gpa: u32,
    /// Size in bytes.
    pub size: u32,
    /// Type.
    pub kind: SectionType,
}

/// A parsed OVMF image.
#[derive(Clone, Debug)]
pub struct Ovmf {
    data: Vec<u8>,
    table: Vec<([u8; 16], std::ops::Range<usize>)>,
    sections: Vec<Section>,
}

impl Ovmf {
    /// Parses the footer table and the SEV metadata of an OVMF image. Offsets in errors are from the
    /// start of the file.
    pub fn parse(data: Vec<u8>) -> Result<Ovmf, ParseError> {
        let size = data.len();
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(ParseError::new(
                "OVMF",
                0,
                ParseErrorKind::BadLength {
                    value: size as u64,
                    rule: "the image must be a non-empty multiple of 4 KiB",
                },
            ));
        }
        let mut table = Vec::new();
        let footer_start = size
            .checked_sub(32 + 18)
            .ok_or_else(|| ParseError::truncated("OVMF footer", 0, 50, size))?;
        let footer_size = u16::from_le_bytes([data[footer_start], data[footer_start + 1]]) as usize;
        let footer_guid = &data[footer_start + 2..footer_start + 18];
        if footer_guid == OVMF_TABLE_FOOTER_GUID && footer_size >= 18 {
            let table_size = footer_size - 18;
            let table_start = footer_start.checked_sub(table_size).ok_or_else(|| {
                ParseError::invalid(
                    "OVMF footer size",
                    footer_start,
                    footer_size,
                    "table extends before the image",
                )
            })?;
            let mut end = footer_start;
            while end - table_start >= 18 {
                let h = end - 18;
                let esize = u16::from_le_bytes([data[h], data[h + 1]]) as usize;
                if esize < 18 || esize > end - table_start {
                    return Err(ParseError::invalid(
                        "OVMF table entry size",
                        h,
                        esize,
                        "entry size below its header or beyond the table",
                    ));
                }
                let mut g = [0u8; 16];
                g.copy_from_slice(&data[h + 2..h + 18]);
                table.push((g, end - esize..h));
                end -= esize;
            }
        }
        let mut ovmf = Ovmf {
            data,
            table,
            sections: Vec::new(),
        };
        let meta = ovmf
            .table
            .iter()
            .find(|(g, _)| *g == OVMF_SEV_META_DATA_GUID)
            .map(|(_, r)| r.clone());
        if let Some(range) = meta {
            let at = range.start;
            let entry = &ovmf.data[range];
            let off = u32_at(entry, 0)
                .ok_or_else(|| ParseError::truncated("SEV metadata offset", at, 4, 0))?
                as usize;
            let start = size.checked_sub(off).ok_or_else(|| {
                ParseError::invalid("SEV metadata offset", at, off, "offset beyond the image")
            })?;
            let hdr = ovmf.data.get(start..start + 16).ok_or_else(|| {
                ParseError::truncated("SEV metadata header", start, 16, size - start)
            })?;
            if &hdr[0..4] != b"ASEV" {
                return Err(ParseError::invalid(
                    "SEV metadata signature",
                    start,
                    hex::encode(&hdr[0..4]),
                    "must be \"ASEV\"",
                ));
            }
            let version = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
            if version != 1 {
                return Err(ParseError::invalid(
                    "SEV metadata version",
                    start + 8,
                    version,
                    "must be 1",
                ));
            }
            let n = u32::from_le_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]) as usize;
            for i in 0..n {
                let o = start + 16 + 12 * i;
                let item = ovmf.data.get(o..o + 12).ok_or_else(|| {
                    ParseError::truncated("SEV metadata section", o, 12, size.saturating_sub(o))
                })?;
                let gpa = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
                let sz = u32::from_le_bytes([item[4], item[5], item[6], item[7]]);
                let t = u32::from_le_bytes([item[8], item[9], item[10], item[11]]);
                let kind = match t {
                    1 => SectionType::SnpSecMem,
                    2 => SectionType::SnpSecrets,
                    3 => SectionType::Cpuid,
                    4 => SectionType::SvsmCaa,
                    0x10 => SectionType::SnpKernelHashes,
                    _ => {
                        return Err(ParseError::invalid(
                            "SEV metadata section type",
                            o + 8,
                            t,
                            "unknown OVMF metadata section type",
                        ))
                    }
                };
                if sz as usize % PAGE_SIZE != 0 || gpa as usize % PAGE_SIZE != 0 {
                    return Err(ParseError::invalid(
                        "SEV metadata section",
                        o,
                        format!("gpa 0x{gpa:x} size 0x{sz:x}"),
                        "sections must be page-aligned",
                    ));
                }
                ovmf.sections.push(Section {
                    gpa,
                    size: sz,
                    kind,
                });
            }
        }
        Ok(ovmf)
    }

    fn entry(&self, guid: &[u8; 16]) -> Option<&[u8]> {
        self.table
            .iter()
            .find(|(g, _)| g == guid)
            .and_then(|(_, r)| self.data.get(r.clone()))
    }

    /// GPA of the first byte: the image ends at 4 GiB.
    pub fn gpa(&self) -> u64 {
        0x1_0000_0000 - self.data.len() as u64
    }

    /// The image bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The SEV metadata sections.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The SEV-ES reset EIP of the APs.
    pub fn sev_es_reset_eip(&self) -> Option<u32> {
        self.entry(&SEV_ES_RESET_BLOCK_GUID)
            .and_then(|e| u32_at(e, 0))
    }

    /// GPA of the kernel-hashes table.
    pub fn sev_hashes_table_gpa(&self) -> Option<u32> {
        self.entry(&SEV_HASH_TABLE_RV_GUID)
            .and_then(|e| u32_at(e, 0))
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The VMM whose initial vCPU state is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmmType {
    /// QEMU/KVM.
    Qemu,
    /// AWS EC2.
    Ec2,
    /// Google Compute Engine.
    Gce,
}

impl VmmType {
    /// Parses `QEMU`, `ec2` or `gce` (case-insensitive).
    pub fn parse(s: &str) -> Option<VmmType> {
        match s.to_ascii_lowercase().as_str() {
            "qemu" => Some(VmmType::Qemu),
            "ec2" => Some(VmmType::Ec2),
            "gce" => Some(VmmType::Gce),
            _ => None,
        }
    }
}

/// CPUID(1).EAX signature from family, model, stepping (AMD CPUID spec 25481).
pub fn cpu_sig(family: u32, model: u32, stepping: u32) -> u32 {
    let (fl, fh) = if family > 0xf {
        (0xf, (family - 0xf) & 0xff)
    } else {
        (family, 0)
    };
    (fh << 20) | (((model >> 4) & 0xf) << 16) | (fl << 8) | ((model & 0xf) << 4) | (stepping & 0xf)
}

/// The vCPU signature of a QEMU CPU model name (sev-snp-measure `vcpu_types.py`).
pub fn vcpu_type_sig(name: &str) -> Option<u32> {
    Some(match name {
        "EPYC" | "EPYC-v1" | "EPYC-v2" | "EPYC-IBPB" | "EPYC-v3" | "EPYC-v4" => cpu_sig(23, 1, 2),
        "EPYC-Rome" | "EPYC-Rome-v1" | "EPYC-Rome-v2" | "EPYC-Rome-v3" => cpu_sig(23, 49, 0),
        "EPYC-Milan" | "EPYC-Milan-v1" | "EPYC-Milan-v2" => cpu_sig(25, 1, 1),
        "EPYC-Genoa" | "EPYC-Genoa-v1" => cpu_sig(25, 17, 0),
        "EPYC-Turin" => cpu_sig(26, 0, 0),
        _ => return None,
    })
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct MeasureInput {
    /// The OVMF image.
    pub ovmf: Ovmf,
    /// A precomputed digest of the OVMF pages (`--snp-ovmf-hash`), used instead of hashing them.
    pub ovmf_hash: Option<[u8; 48]>,
    /// Number of vCPUs.
    pub vcpus: u32,
    /// CPUID(1).EAX of the vCPUs (RDX of the initial VMSA on QEMU).
    pub vcpu_sig: u32,
    /// Kernel image, for direct boot with measured kernel hashes.
    pub kernel: Option<Vec<u8>>,
    /// Initrd (requires a kernel).
    pub initrd: Option<Vec<u8>>,
    /// Kernel command line (requires a kernel).
    pub append: Option<String>,
    /// SEV_FEATURES of the VMSAs.
    pub guest_features: u64,
    /// VMM.
    pub vmm: VmmType,
}

/// Why a measurement cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// The OVMF image is malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A kernel was given but the OVMF has no SNP_KERNEL_HASHES section or hash table.
    #[error("kernel specified but the OVMF metadata has no SNP_KERNEL_HASHES section or no SEV hash table GUID")]
    NoKernelHashes,
    /// The kernel hashes table does not fit its section.
    #[error("the kernel hashes table at offset 0x{offset:x} does not fit in its 4 KiB page")]
    HashTableOutsidePage {
        /// Offset in the page.
        offset: usize,
    },
    /// The OVMF has no SEV-ES reset block, so the APs' start address is unknown.
    #[error("the OVMF has no SEV-ES reset block GUID entry")]
    NoResetBlock,
}

/// One SNP_LAUNCH_UPDATE: where, what type, and the page contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// GPA of the page.
    pub gpa: u64,
    /// Page type.
    pub page_type: PageType,
    /// Contents; `None` is a page of zeros (ZERO/UNMEASURED/SECRETS/CPUID pages), so a plan of a
    /// huge metadata section costs a few bytes a page, not 4 KiB.
    pub page: Option<Box<[u8; PAGE_SIZE]>>,
}

static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

impl Update {
    /// The page contents.
    pub fn bytes(&self) -> &[u8; PAGE_SIZE] {
        self.page.as_deref().unwrap_or(&ZERO_PAGE)
    }
}

fn new_page() -> Box<[u8; PAGE_SIZE]> {
    Box::new([0u8; PAGE_SIZE])
}

/// The kernel hashes table as QEMU builds it: header GUID + length, then cmdline, initrd, kernel
/// entries `{GUID, u16 50, SHA-256}`, padded to 16 bytes.
pub fn kernel_hashes_table(kernel: &[u8], initrd: Option<&[u8]>, append: Option<&str>) -> Vec<u8> {
    let entry = |g: &[u8; 16], h: &[u8]| {
        let mut e = g.to_vec();
        e.extend(50u16.to_le_bytes());
        e.extend_from_slice(h);
        e
    };
    let cmdline = match append {
        Some(a) if !a.is_empty() => {
            let mut c = a.as_bytes().to_vec();
            c.push(0);
            c
        }
        _ => vec![0],
    };
    let mut t = SEV_HASH_TABLE_HEADER_GUID.to_vec();
    t.extend(168u16.to_le_bytes());
    t.extend(entry(&SEV_CMDLINE_ENTRY_GUID, &Sha256::digest(&cmdline)));
    t.extend(entry(
        &SEV_INITRD_ENTRY_GUID,
        &Sha256::digest(initrd.unwrap_or(&[])),
    ));
    t.extend(entry(&SEV_KERNEL_ENTRY_GUID, &Sha256::digest(kernel)));
    t.resize(t.len().div_ceil(16) * 16, 0);
    t
}

/// Offsets of the SEV-ES save area (the VMSA, AMD APM vol. 2 Table B-4) that the initial state sets.
mod vmsa_off {
    pub const ES: usize = 0x00;
    pub const CS: usize = 0x10;
    pub const SS: usize = 0x20;
    pub const DS: usize = 0x30;
    pub const FS: usize = 0x40;
    pub const GS: usize = 0x50;
    pub const GDTR: usize = 0x60;
    pub const LDTR: usize = 0x70;
    pub const IDTR: usize = 0x80;
    pub const TR: usize = 0x90;
    pub const EFER: usize = 0xD0;
    pub const CR4: usize = 0x148;
    pub const CR0: usize = 0x158;
    pub const DR7: usize = 0x160;
    pub const DR6: usize = 0x168;
    pub const RFLAGS: usize = 0x170;
    pub const RIP: usize = 0x178;
    pub const G_PAT: usize = 0x268;
    pub const RDX: usize = 0x310;
    pub const SEV_FEATURES: usize = 0x3B0;
    pub const XCR0: usize = 0x3E8;
    pub const MXCSR: usize = 0x408;
    pub const X87_FCW: usize = 0x410;
}

/// The initial VMSA of a vCPU starting at `eip` (sev-snp-measure `VMSA.build_save_area`).
pub fn initial_vmsa(
    eip: u32,
    sev_features: u64,
    vcpu_sig: u32,
    vmm: VmmType,
) -> Box<[u8; PAGE_SIZE]> {
    let mut p = new_page();
    let mut put = |off: usize, bytes: &[u8]| p[off..off + bytes.len()].copy_from_slice(bytes);
    let seg = |sel: u16, attr: u16, limit: u32, base: u64| {
        let mut s = [0u8; 16];
        s[0..2].copy_from_slice(&sel.to_le_bytes());
        s[2..4].copy_from_slice(&attr.to_le_bytes());
        s[4..8].copy_from_slice(&limit.to_le_bytes());
        s[8..16].copy_from_slice(&base.to_le_bytes());
        s
    };
    let (cs_flags, ss_flags, tr_flags, rdx, mxcsr, fcw, g_pat): (
        u16,
        u16,
        u16,
        u64,
        u32,
        u16,
        u64,
    ) = match vmm {
        VmmType::Qemu => (
            0x9b,
            0x93,
            0x8b,
            u64::from(vcpu_sig),
            0x1f80,
            0x37f,
            0x0007_0406_0007_0406,
        ),
        VmmType::Ec2 => (
            if eip == 0xffff_fff0 { 0x9a } else { 0x9b },
            0x92,
            0x83,
            0x600,
            0,
            0,
            0x0007_0406_0007_0406,
        ),
        VmmType::Gce => (0x9b, 0x93, 0x8b, 0x600, 0, 0, 0x0007_0106),
    };
    put(vmsa_off::ES, &seg(0, 0x93, 0xffff, 0));
    put(
        vmsa_off::CS,
        &seg(0xf000, cs_flags, 0xffff, u64::from(eip & 0xffff_0000)),
    );
    put(vmsa_off::SS, &seg(0, ss_flags, 0xffff, 0));
    put(vmsa_off::DS, &seg(0, 0x93, 0xffff, 0));
    put(vmsa_off::FS, &seg(0, 0x93, 0xffff, 0));
    put(vmsa_off::GS, &seg(0, 0x93, 0xffff, 0));
    put(vmsa_off::GDTR, &seg(0, 0, 0xffff, 0));
    put(vmsa_off::IDTR, &seg(0, 0, 0xffff, 0));
    put(vmsa_off::LDTR, &seg(0, 0x82, 0xffff, 0));
    put(vmsa_off::TR, &seg(0, tr_flags, 0xffff, 0));
    put(vmsa_off::EFER, &0x1000u64.to_le_bytes());
    put(vmsa_off::CR4, &0x40u64.to_le_bytes());
    put(vmsa_off::CR0, &0x10u64.to_le_bytes());
    put(vmsa_off::DR7, &0x400u64.to_le_bytes());
    put(vmsa_off::DR6, &0xffff_0ff0u64.to_le_bytes());
    put(vmsa_off::RFLAGS, &2u64.to_le_bytes());
    put(vmsa_off::RIP, &u64::from(eip & 0xffff).to_le_bytes());
    put(vmsa_off::G_PAT, &g_pat.to_le_bytes());
    put(vmsa_off::RDX, &rdx.to_le_bytes());
    put(vmsa_off::SEV_FEATURES, &sev_features.to_le_bytes());
    put(vmsa_off::XCR0, &1u64.to_le_bytes());
    put(vmsa_off::MXCSR, &mxcsr.to_le_bytes());
    put(vmsa_off::X87_FCW, &fcw.to_le_bytes());
    p
}

fn pages(gpa: u64, size: u32, page_type: PageType, out: &mut Vec<Update>) {
    for i in 0..u64::from(size) / PAGE_SIZE as u64 {
        out.push(Update {
            gpa: gpa + i * PAGE_SIZE as u64,
            page_type,
            page: None,
        });
    }
}

/// The SNP_LAUNCH_UPDATE commands for `input`, in the order a VMM issues them (without the OVMF pages
/// when `input.ovmf_hash` replaces them).
pub fn launch_plan(input: &MeasureInput) -> Result<Vec<Update>, MeasureError> {
    let ovmf = &input.ovmf;
    let mut plan = Vec::new();
    if input.ovmf_hash.is_none() {
        for (i, chunk) in ovmf.data().chunks_exact(PAGE_SIZE).enumerate() {
            let mut page = new_page();
            page.copy_from_slice(chunk);
            plan.push(Update {
                gpa: ovmf.gpa() + (i * PAGE_SIZE) as u64,
                page_type: PageType::Normal,
                page: Some(page),
            });
        }
    }
    let hashes = match &input.kernel {
        Some(k) => {
            let has_section = ovmf
                .sections()
                .iter()
                .any(|s| s.kind == SectionType::SnpKernelHashes);
            let table_gpa = ovmf
                .sev_hashes_table_gpa()
                .ok_or(MeasureError::NoKernelHashes)?;
            if !has_section {
                return Err(MeasureError::NoKernelHashes);
            }
            let table = kernel_hashes_table(k, input.initrd.as_deref(), input.append.as_deref());
            let offset = (table_gpa & 0xfff) as usize;
            if offset + table.len() > PAGE_SIZE {
                return Err(MeasureError::HashTableOutsidePage { offset });
            }
            let mut page = new_page();
            page[offset..offset + table.len()].copy_from_slice(&table);
            Some(page)
        }
        None => None,
    };
    for s in ovmf.sections() {
        let gpa = u64::from(s.gpa);
        match s.kind {
            SectionType::SnpSecMem if input.vmm == VmmType::Gce => {
                pages(gpa, s.size, PageType::Unmeasured, &mut plan)
            }
            SectionType::SnpSecMem | SectionType::SvsmCaa => {
                pages(gpa, s.size, PageType::Zero, &mut plan)
            }
            SectionType::SnpSecrets => plan.push(Update {
                gpa,
                page_type: PageType::Secrets,
                page: None,
            }),
            SectionType::Cpuid if input.vmm != VmmType::Ec2 => plan.push(Update {
                gpa,
                page_type: PageType::Cpuid,
                page: None,
            }),
            SectionType::Cpuid => {}
            SectionType::SnpKernelHashes => match &hashes {
                Some(page) if s.size as usize == PAGE_SIZE => plan.push(Update {
                    gpa,
                    page_type: PageType::Normal,
                    page: Some(page.clone()),
                }),
                Some(_) => {
                    return Err(MeasureError::HashTableOutsidePage {
                        offset: s.size as usize,
                    })
                }
                None => pages(gpa, s.size, PageType::Zero, &mut plan),
            },
        }
    }
    if input.vmm == VmmType::Ec2 {
        for s in ovmf
            .sections()
            .iter()
            .filter(|s| s.kind == SectionType::Cpuid)
        {
            plan.push(Update {
                gpa: u64::from(s.gpa),
                page_type: PageType::Cpuid,
                page: None,
            });
        }
    }
    let ap_eip = ovmf.sev_es_reset_eip();
    for i in 0..input.vcpus {
        let eip = if i == 0 {
            0xffff_fff0
        } else {
            ap_eip.ok_or(MeasureError::NoResetBlock)?
        };
        plan.push(Update {
            gpa: VMSA_GPA,
            page_type: PageType::Vmsa,
            page: Some(initial_vmsa(
                eip,
                input.guest_features,
                input.vcpu_sig,
                input.vmm,
            )),
        });
    }
    Ok(plan)
}

/// The digest of the OVMF pages alone (sev-snp-measure `--mode snp:ovmf-hash`).
pub fn ovmf_hash(ovmf: &Ovmf) -> [u8; 48] {
    let mut ld = [0u8; 48];
    for (i, chunk) in ovmf.data().chunks_exact(PAGE_SIZE).enumerate() {
        ld = page_info_digest(
            &ld,
            PageType::Normal,
            chunk,
            ovmf.gpa() + (i * PAGE_SIZE) as u64,
            [0; 3],
        );
    }
    ld
}

/// The expected launch digest (MEASUREMENT) of `input`.
pub fn launch_digest(input: &MeasureInput) -> Result<[u8; 48], MeasureError> {
    let mut ld = input.ovmf_hash.unwrap_or([0; 48]);
    for u in launch_plan(input)? {
        ld = page_info_digest(&ld, u.page_type, u.bytes(), u.gpa, [0; 3]);
    }
    Ok(ld)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_le_is_the_efi_layout() {
        // uuid.UUID("96b582de-1fb2-45f7-baea-a366c55a082d").bytes_le
        assert_eq!(
            hex::encode(OVMF_TABLE_FOOTER_GUID),
            "de82b596b21ff745baeaa366c55a082d"
        );
    }

    #[test]
    fn cpu_signatures_match_sev_snp_measure() {
        // snp.md §3.3 item 5: EPYC-v4 0x800F12, EPYC-Milan 0xA00F11, EPYC-Genoa 0xA10F10.
        assert_eq!(vcpu_type_sig("EPYC-v4"), Some(0x800F12));
        assert_eq!(vcpu_type_sig("EPYC-Milan"), Some(0xA00F11));
        assert_eq!(vcpu_type_sig("EPYC-Genoa"), Some(0xA10F10));
        assert_eq!(vcpu_type_sig("EPYC-Turin"), Some(0xB00F00));
        assert_eq!(vcpu_type_sig("Skylake"), None);
    }

    #[test]
    fn bad_images_are_typed_errors() {
        assert!(matches!(
            Ovmf::parse(vec![0; 100]).unwrap_err().kind,
            ParseErrorKind::BadLength { .. }
        ));
        // A page of zeros has no footer table: no sections, no reset block.
        let o = Ovmf::parse(vec![0; 4096]).unwrap();
        assert!(o.sections().is_empty());
        let input = MeasureInput {
            ovmf: o,
            ovmf_hash: None,
            vcpus: 2,
            vcpu_sig: 0,
            kernel: None,
            initrd: None,
            append: None,
            guest_features: 1,
            vmm: VmmType::Qemu,
        };
        assert_eq!(
            launch_digest(&input).unwrap_err(),
            MeasureError::NoResetBlock
        );
    }
}
