//! The validated ATTESTATION_REPORT: structure checks that need only the bytes and the version, and
//! accessors that take the product context (TCB layout) explicitly (snp.md §1).
//!
//! Checks made at parse time, each a [`ParseError`] naming the field and offset:
//! the size is exactly 0x4A0; VERSION is 2, 3, 4 or 5 (4 is read as 3, as virtee/sev does);
//! SIGNATURE_ALGO is 1; KEY_INFO bits 31:5 are zero and SIGNING_KEY is 0, 1 or 7; VMPL is 0-3; the
//! reserved ranges of the version are zero (0x04C, 0x188/0x18B-0x19F, 0x1EB, 0x1EF, 0x1F8/0x208-0x29F), and
//! so are the bytes of the signature a P-384 signature does not use (R and S above 48 bytes, 0x330-0x49F).
//! POLICY and PLATFORM_INFO bits are not judged here: unknown PLATFORM_INFO bits are information (real
//! Turin reports set bit 6), and the policy's reserved bits are a verifier check of their own.

use serde_json::json;
use sim_core::parse::{check_mbz, ParseError, ParseErrorKind};
use zerocopy::FromBytes;

use crate::layout::policy::SigningKey;
use crate::layout::report::{AttestationReportRaw, REPORT_SIZE};
use crate::layout::{GuestPolicy, KeyInfo, PlatformInfo, TcbVersion};
use crate::product::{Product, TcbLayout};

/// Report versions this model emits and parses.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ReportVersion {
    /// Version 2 (no CPUID, no mitigation vectors).
    V2,
    /// Version 3 (CPUID family/model/stepping at 0x188); version 4 has the same layout.
    V3,
    /// Version 5 (adds LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR).
    V5,
}

impl ReportVersion {
    /// The VERSION field value.
    pub fn number(self) -> u32 {
        match self {
            ReportVersion::V2 => 2,
            ReportVersion::V3 => 3,
            ReportVersion::V5 => 5,
        }
    }

    /// From a VERSION value (4 is the v3 layout).
    pub fn from_number(v: u32) -> Option<ReportVersion> {
        match v {
            2 => Some(ReportVersion::V2),
            3 | 4 => Some(ReportVersion::V3),
            5 => Some(ReportVersion::V5),
            _ => None,
        }
    }
}

/// A structurally valid report: its raw bytes and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationReport {
    /// The report as it was received (never re-serialised).
    pub raw: AttestationReportRaw,
    /// Its layout version.
    pub version: ReportVersion,
}

impl AttestationReport {
    /// Parses and checks a report (see the module documentation for the rules).
    pub fn parse(bytes: &[u8]) -> Result<AttestationReport, ParseError> {
        if bytes.len() < REPORT_SIZE {
            return Err(ParseError::truncated(
                "ATTESTATION_REPORT",
                0,
                REPORT_SIZE,
                bytes.len(),
            ));
        }
        if bytes.len() > REPORT_SIZE {
            return Err(ParseError::new(
                "ATTESTATION_REPORT",
                REPORT_SIZE,
                ParseErrorKind::TrailingData {
                    len: bytes.len() - REPORT_SIZE,
                },
            ));
        }
        let raw = AttestationReportRaw::read_from_bytes(bytes).map_err(|_| {
            ParseError::truncated("ATTESTATION_REPORT", 0, REPORT_SIZE, bytes.len())
        })?;
        let vnum = raw.version.get();
        let version = ReportVersion::from_number(vnum).ok_or_else(|| {
            ParseError::invalid(
                "VERSION",
                0x000,
                vnum,
                "report version must be 2, 3, 4 or 5",
            )
        })?;
        let algo = raw.signature_algo.get();
        if algo != 1 {
            return Err(ParseError::invalid(
                "SIGNATURE_ALGO",
                0x034,
                algo,
                "only 1 (ECDSA P-384 with SHA-384) is defined",
            ));
        }
        let ki = KeyInfo(raw.key_info.get());
        if ki.0 & KeyInfo::RESERVED_MBZ != 0 {
            return Err(ParseError::invalid(
                "KEY_INFO",
                0x048,
                format!("0x{:x}", ki.0),
                "bits 31:5 are reserved and must be zero",
            ));
        }
        if let SigningKey::Reserved(v) = ki.signing_key() {
            return Err(ParseError::invalid(
                "KEY_INFO.SIGNING_KEY",
                0x048,
                v,
                "SIGNING_KEY must be 0 (VCEK), 1 (VLEK) or 7 (none)",
            ));
        }
        let vmpl = raw.vmpl.get();
        if vmpl > 3 {
            return Err(ParseError::invalid("VMPL", 0x030, vmpl, "VMPL must be 0-3"));
        }
        check_mbz("RESERVED_0x04C", bytes, 0, 0x04C..0x050)?;
        match version {
            ReportVersion::V2 => check_mbz("RESERVED_0x188", bytes, 0, 0x188..0x1A0)?,
            _ => check_mbz("RESERVED_0x18B", bytes, 0, 0x18B..0x1A0)?,
        }
        check_mbz("RESERVED_0x1EB", bytes, 0, 0x1EB..0x1EC)?;
        check_mbz("RESERVED_0x1EF", bytes, 0, 0x1EF..0x1F0)?;
        match version {
            ReportVersion::V5 => check_mbz("RESERVED_0x208", bytes, 0, 0x208..0x2A0)?,
            _ => check_mbz("RESERVED_0x1F8", bytes, 0, 0x1F8..0x2A0)?,
        }
        check_mbz("SIGNATURE.R[48..72]", bytes, 0, 0x2D0..0x2E8)?;
        check_mbz("SIGNATURE.S[48..72]", bytes, 0, 0x318..0x330)?;
        check_mbz("SIGNATURE.RESERVED", bytes, 0, 0x330..0x4A0)?;
        Ok(AttestationReport { raw, version })
    }

    /// The product the report's CPUID fields name (v3+), if any.
    pub fn cpuid_product(&self) -> Option<Product> {
        if self.version == ReportVersion::V2 {
            return None;
        }
        Product::from_cpuid(self.raw.cpuid_fam_id, self.raw.cpuid_mod_id)
    }

    /// Best guess of the product without a VCEK: CPUID (v3+), else "CHIP_ID[8..64] is zero and CHIP_ID
    /// is not all zero ⇒ Turin" (virtee/sev heuristic); Milan and Genoa v2 reports cannot be told apart.
    pub fn guess_product(&self) -> Option<Product> {
        if let Some(p) = self.cpuid_product() {
            return Some(p);
        }
        let id = &self.raw.chip_id;
        if id[8..].iter().all(|b| *b == 0) && id[..8].iter().any(|b| *b != 0) {
            return Some(Product::Turin);
        }
        None
    }

    /// GUEST_POLICY.
    pub fn policy(&self) -> GuestPolicy {
        GuestPolicy(self.raw.policy.get())
    }

    /// PLATFORM_INFO.
    pub fn platform_info(&self) -> PlatformInfo {
        PlatformInfo(self.raw.platform_info.get())
    }

    /// KEY_INFO.
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo(self.raw.key_info.get())
    }

    /// A TCB field decoded in `product`'s layout.
    pub fn tcb(&self, field: TcbField, product: Product) -> TcbVersion {
        TcbVersion::from_u64(self.tcb_u64(field), product.tcb_layout())
    }

    /// The raw u64 of a TCB field.
    pub fn tcb_u64(&self, field: TcbField) -> u64 {
        match field {
            TcbField::Current => self.raw.current_tcb.get(),
            TcbField::Reported => self.raw.reported_tcb.get(),
            TcbField::Committed => self.raw.committed_tcb.get(),
            TcbField::Launch => self.raw.launch_tcb.get(),
        }
    }

    /// The meaningful bytes of CHIP_ID for `product` (64, or 8 on Turin).
    pub fn hwid(&self, product: Product) -> &[u8] {
        &self.raw.chip_id[..product.hwid_len()]
    }

    /// Every field, decoded, as JSON (the `show` command). `product` picks the TCB layout; without it
    /// the product is guessed from the report.
    pub fn to_json(&self, product: Option<Product>) -> serde_json::Value {
        let r = &self.raw;
        let product = product.or_else(|| self.guess_product());
        let layout = product.map(|p| p.tcb_layout()).unwrap_or(TcbLayout::Legacy);
        let tcb = |v: u64| {
            let t = TcbVersion::from_u64(v, layout);
            json!({"raw": hex::encode(v.to_le_bytes()), "fmc": t.fmc, "bootloader": t.bootloader, "tee": t.tee, "snp": t.snp, "microcode": t.microcode})
        };
        let ki = self.key_info();
        let signing_key = match ki.signing_key() {
            SigningKey::Vcek => "vcek".to_string(),
            SigningKey::Vlek => "vlek".to_string(),
            SigningKey::None => "none".to_string(),
            SigningKey::Reserved(v) => format!("reserved({v})"),
        };
        let mut v = json!({
            "version": r.version.get(),
            "guest_svn": r.guest_svn.get(),
            "policy": {"raw": format!("0x{:x}", r.policy.get()), "abi_major": self.policy().abi_major(), "abi_minor": self.policy().abi_minor(), "flags": self.policy().flags()},
            "family_id": hex::encode(r.family_id),
            "image_id": hex::encode(r.image_id),
            "vmpl": r.vmpl.get(),
            "signature_algo": r.signature_algo.get(),
            "current_tcb": tcb(r.current_tcb.get()),
            "platform_info": {"raw": format!("0x{:x}", r.platform_info.get()), "flags": self.platform_info().flags()},
            "key_info": {"raw": format!("0x{:x}", ki.0), "author_key_en": ki.author_key_en(), "mask_chip_key": ki.mask_chip_key(), "signing_key": signing_key},
            "report_data": hex::encode(r.report_data),
            "measurement": hex::encode(r.measurement),
            "host_data": hex::encode(r.host_data),
            "id_key_digest": hex::encode(r.id_key_digest),
            "author_key_digest": hex::encode(r.author_key_digest),
            "report_id": hex::encode(r.report_id),
            "report_id_ma": hex::encode(r.report_id_ma),
            "reported_tcb": tcb(r.reported_tcb.get()),
            "chip_id": hex::encode(r.chip_id),
            "committed_tcb": tcb(r.committed_tcb.get()),
            "current_version": format!("{}.{}.{}", r.current_major, r.current_minor, r.current_build),
            "committed_version": format!("{}.{}.{}", r.committed_major, r.committed_minor, r.committed_build),
            "launch_tcb": tcb(r.launch_tcb.get()),
            "signature": {"r": hex::encode(r.signature.r), "s": hex::encode(r.signature.s)},
            "product": product.map(|p| p.name()),
        });
        if self.version != ReportVersion::V2 {
            v["cpuid"] = json!({"family": format!("0x{:02x}", r.cpuid_fam_id), "model": format!("0x{:02x}", r.cpuid_mod_id), "stepping": format!("0x{:02x}", r.cpuid_step)});
        }
        if self.version == ReportVersion::V5 {
            v["launch_mit_vector"] = json!(format!("0x{:x}", r.launch_mit_vector.get()));
            v["current_mit_vector"] = json!(format!("0x{:x}", r.current_mit_vector.get()));
        }
        v
    }
}

/// The four TCB fields of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcbField {
    /// CURRENT_TCB @0x038.
    Current,
    /// REPORTED_TCB @0x180.
    Reported,
    /// COMMITTED_TCB @0x1E0.
    Committed,
    /// LAUNCH_TCB @0x1F0.
    Launch,
}

impl TcbField {
    /// Spec name and offset.
    pub fn name_offset(self) -> (&'static str, usize) {
        match self {
            TcbField::Current => ("CURRENT_TCB", 0x038),
            TcbField::Reported => ("REPORTED_TCB", 0x180),
            TcbField::Committed => ("COMMITTED_TCB", 0x1E0),
            TcbField::Launch => ("LAUNCH_TCB", 0x1F0),
        }
    }
}
