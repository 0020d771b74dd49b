//! The TDX module's attestation side: building a TD (TDH.MNG.CREATE/KEY.CONFIG/INIT, TDH.MEM.PAGE.ADD,
//! TDH.MR.EXTEND, TDH.MR.FINALIZE), RTMR extension (TDG.MR.RTMR.EXTEND) and TDG.MR.REPORT (tdx.md §1, §4).
//!
//! **The MAC.** On hardware the REPORTMACSTRUCT MAC is computed inside the CPU (SEAMREPORT) with a platform
//! report key no software sees, by a model-specific algorithm Intel does not publish; it is checked only
//! on the same platform by `EVERIFYREPORT2` in the quoting enclave. This simulator uses a per-platform
//! secret `report_key` (32 bytes from the seed) and HMAC-SHA-256 over bytes 0x000..0x0E0. Simulated MACs
//! are therefore not interoperable with hardware, and the MAC of a real TDREPORT cannot be checked.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384};
use zerocopy::little_endian::U64;
use zerocopy::{FromZeros, IntoBytes};

use crate::layout::tdreport::{ReportMacStruct, TdInfo, TdReport, TeeTcbInfo, REPORT_TYPE_TDX};
use crate::measure::{rtmr_extend, MrtdBuilder};

/// TDX module error codes used here (`tdx_error_codes_defs.h`, tdx.md §5.5).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TdxError {
    /// TDX_OPERAND_INVALID with the operand id (RCX = 1, RDX = 2).
    #[error("TDX_OPERAND_INVALID (operand {0})")]
    TDX_OPERAND_INVALID(u32),
    /// TDX_OP_STATE_INCORRECT: the leaf is not allowed in the TD's current OP_STATE.
    #[error("TDX_OP_STATE_INCORRECT")]
    TDX_OP_STATE_INCORRECT,
    /// TDX_TD_KEYS_NOT_CONFIGURED: TDH.MNG.INIT before TDH.MNG.KEY.CONFIG.
    #[error("TDX_TD_KEYS_NOT_CONFIGURED")]
    TDX_TD_KEYS_NOT_CONFIGURED,
    /// TDX_KEY_CONFIGURED: TDH.MNG.KEY.CONFIG on a TD whose key is already configured.
    #[error("TDX_KEY_CONFIGURED")]
    TDX_KEY_CONFIGURED,
}

impl TdxError {
    /// The 64-bit status code.
    pub fn code(self) -> u64 {
        match self {
            TdxError::TDX_OPERAND_INVALID(op) => 0xC000_0100_0000_0000 | u64::from(op),
            TdxError::TDX_OP_STATE_INCORRECT => 0xC000_0608_0000_0000,
            TdxError::TDX_TD_KEYS_NOT_CONFIGURED => 0x8000_0810_0000_0000,
            TdxError::TDX_KEY_CONFIGURED => 0x0000_0815_0000_0000,
        }
    }
}

/// A simulated TDX platform: the TCB the CPU reports and the secret report key.
#[derive(Clone, Debug)]
pub struct TdxPlatform {
    /// The secret MAC key (HMAC-SHA-256), per platform.
    pub report_key: [u8; 32],
    /// CPUSVN (the 16 CPU component SVNs; the PCK certificate carries the same).
    pub cpusvn: [u8; 16],
    /// TEE_TCB_INFO as the SEAM module reports it (VALID, TEE_TCB_SVN, MRSEAM, TEE_TCB_SVN2 ...).
    pub tee_tcb_info: TeeTcbInfo,
}

impl TdxPlatform {
    /// A platform from `seed` with the given TCB. VALID is 0x301FF (TDX 1.5) and MRSEAM is derived from
    /// the module SVN.
    pub fn new(seed: u64, cpusvn: [u8; 16], tee_tcb_svn: [u8; 16], tee_tcb_svn2: [u8; 16]) -> Self {
        let mut t = TeeTcbInfo::new_zeroed();
        t.valid = [0xFF, 0x01, 0x03, 0, 0, 0, 0, 0];
        t.tee_tcb_svn = tee_tcb_svn;
        let mut h = Sha384::new();
        h.update(b"cvmsim simulated TDX module");
        h.update(&tee_tcb_svn[..2]);
        t.mrseam.copy_from_slice(&h.finalize());
        t.tee_tcb_svn2 = tee_tcb_svn2;
        TdxPlatform {
            report_key: sim_core::rng::bytes::<32>("tdx/report-key", seed),
            cpusvn,
            tee_tcb_info: t,
        }
    }

    /// HMAC-SHA-256(report_key, REPORTMACSTRUCT[0..0xE0]).
    pub fn mac(&self, report: &TdReport) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.report_key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        m.update(report.mac_input());
        m.finalize().into_bytes().into()
    }

    /// The simulated `EVERIFYREPORT2`: whether the MAC was made on this platform.
    pub fn verify_report2(&self, report: &TdReport) -> bool {
        self.mac(report) == report.report_mac_struct.mac
    }
}

/// TD_PARAMS given at TDH.MNG.INIT (the attested subset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TdParams {
    /// TD ATTRIBUTES.
    pub attributes: u64,
    /// XFAM.
    pub xfam: u64,
    /// MRCONFIGID.
    pub mrconfigid: [u8; 48],
    /// MROWNER.
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG.
    pub mrownerconfig: [u8; 48],
}

impl Default for TdParams {
    fn default() -> Self {
        TdParams {
            attributes: 0,
            xfam: 0,
            mrconfigid: [0; 48],
            mrowner: [0; 48],
            mrownerconfig: [0; 48],
        }
    }
}

/// OP_STATE of a TD (the subset used here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpState {
    /// After TDH.MNG.CREATE, before TDH.MNG.INIT.
    Uninitialized,
    /// After TDH.MNG.INIT: pages can be added and measured.
    Initialized,
    /// After TDH.MR.FINALIZE: the TD can run.
    Runnable,
}

/// A TD being built and run, with its measurement registers.
#[derive(Clone, Debug)]
pub struct Td {
    params: TdParams,
    hkid: u16,
    keys_configured: bool,
    state: OpState,
    mrtd_ctx: MrtdBuilder,
    mrtd: [u8; 48],
    rtmr: [[u8; 48]; 4],
    servtd_hash: [u8; 48],
}

impl Td {
    /// TDH.MNG.CREATE: a TD with private HKID `hkid`; OP_STATE UNINITIALIZED, key not yet configured.
    pub fn mng_create(hkid: u16) -> Td {
        Td {
            params: TdParams::default(),
            hkid,
            keys_configured: false,
            state: OpState::Uninitialized,
            mrtd_ctx: MrtdBuilder::new(),
            mrtd: [0; 48],
            rtmr: [[0; 48]; 4],
            servtd_hash: [0; 48],
        }
    }

    /// TDH.MNG.KEY.CONFIG: programs the TD's key for its HKID (PCONFIG, key never visible).
    pub fn mng_key_config(&mut self) -> Result<(), TdxError> {
        if self.keys_configured {
            return Err(TdxError::TDX_KEY_CONFIGURED);
        }
        self.keys_configured = true;
        Ok(())
    }

    /// TDH.MNG.INIT with TD_PARAMS: starts the SHA-384 MRTD context; OP_STATE becomes INITIALIZED.
    pub fn mng_init(&mut self, params: TdParams) -> Result<(), TdxError> {
        if !self.keys_configured {
            return Err(TdxError::TDX_TD_KEYS_NOT_CONFIGURED);
        }
        if self.state != OpState::Uninitialized {
            return Err(TdxError::TDX_OP_STATE_INCORRECT);
        }
        self.params = params;
        self.mrtd_ctx = MrtdBuilder::new();
        self.state = OpState::Initialized;
        Ok(())
    }

    /// TDH.MNG.CREATE + TDH.MNG.KEY.CONFIG + TDH.MNG.INIT in one step (HKID 1).
    pub fn create(params: TdParams) -> Td {
        let mut td = Td::mng_create(1);
        td.keys_configured = true;
        td.params = params;
        td.state = OpState::Initialized;
        td
    }

    /// The TD's private HKID.
    pub fn hkid(&self) -> u16 {
        self.hkid
    }

    /// The TD's OP_STATE.
    pub fn op_state(&self) -> OpState {
        self.state
    }

    /// TDH.MEM.PAGE.ADD of the 4 KiB page at `gpa` (measures the GPA, not the contents).
    pub fn page_add(&mut self, gpa: u64) -> Result<(), TdxError> {
        if self.state != OpState::Initialized {
            return Err(TdxError::TDX_OP_STATE_INCORRECT);
        }
        if gpa & 0xFFF != 0 {
            return Err(TdxError::TDX_OPERAND_INVALID(1));
        }
        self.mrtd_ctx.page_add(gpa);
        Ok(())
    }

    /// TDH.MR.EXTEND of the 256-byte chunk at `gpa` (256-byte aligned).
    pub fn mr_extend(&mut self, gpa: u64, chunk: &[u8; 256]) -> Result<(), TdxError> {
        if self.state != OpState::Initialized {
            return Err(TdxError::TDX_OP_STATE_INCORRECT);
        }
        if gpa & 0xFF != 0 {
            return Err(TdxError::TDX_OPERAND_INVALID(1));
        }
        self.mrtd_ctx.mr_extend(gpa, chunk);
        Ok(())
    }

    /// Adds a 4 KiB page and measures its contents (PAGE.ADD then 16 MR.EXTENDs).
    pub fn add_measured_page(&mut self, gpa: u64, page: &[u8; 4096]) -> Result<(), TdxError> {
        self.page_add(gpa)?;
        for (i, c) in (0u64..).zip(page.chunks_exact(256)) {
            let mut chunk = [0u8; 256];
            chunk.copy_from_slice(c);
            self.mr_extend(gpa + i * 256, &chunk)?;
        }
        Ok(())
    }

    /// TDH.MR.FINALIZE: fixes MRTD; OP_STATE becomes RUNNABLE.
    pub fn finalize(&mut self) -> Result<[u8; 48], TdxError> {
        if self.state != OpState::Initialized {
            return Err(TdxError::TDX_OP_STATE_INCORRECT);
        }
        self.mrtd = std::mem::take(&mut self.mrtd_ctx).finalize();
        self.state = OpState::Runnable;
        Ok(self.mrtd)
    }

    /// A TD whose build measurement is given directly (for quotes of a chosen MRTD).
    pub fn with_mrtd(params: TdParams, mrtd: [u8; 48]) -> Td {
        let mut td = Td::create(params);
        td.state = OpState::Runnable;
        td.mrtd = mrtd;
        td
    }

    /// MRTD (zero before finalize).
    pub fn mrtd(&self) -> [u8; 48] {
        self.mrtd
    }

    /// RTMR0..3.
    pub fn rtmrs(&self) -> [[u8; 48]; 4] {
        self.rtmr
    }

    /// TDG.MR.RTMR.EXTEND: `RTMR[index] = SHA-384(RTMR[index] ‖ data)`.
    pub fn rtmr_extend(&mut self, index: u64, data: &[u8; 48]) -> Result<(), TdxError> {
        if self.state != OpState::Runnable {
            return Err(TdxError::TDX_OP_STATE_INCORRECT);
        }
        let reg = usize::try_from(index)
            .ok()
            .and_then(|i| self.rtmr.get_mut(i))
            .ok_or(TdxError::TDX_OPERAND_INVALID(2))?;
        rtmr_extend(reg, data);
        Ok(())
    }

    /// The 512-byte TDINFO.
    pub fn td_info(&self) -> TdInfo {
        let mut t = TdInfo::new_zeroed();
        t.attributes = U64::new(self.params.attributes);
        t.xfam = U64::new(self.params.xfam);
        t.mrtd = self.mrtd;
        t.mrconfigid = self.params.mrconfigid;
        t.mrowner = self.params.mrowner;
        t.mrownerconfig = self.params.mrownerconfig;
        t.rtmr = self.rtmr;
        t.servtd_hash = self.servtd_hash;
        t
    }

    /// TDG.MR.REPORT (subtype 0): the TDREPORT_STRUCT for `report_data`, MACed by `platform`.
    pub fn report(
        &self,
        platform: &TdxPlatform,
        report_data: &[u8; 64],
    ) -> Result<TdReport, TdxError> {
        if self.state != OpState::Runnable {
            return Err(TdxError::TDX_OP_STATE_INCORRECT);
        }
        let td_info = self.td_info();
        let tee = platform.tee_tcb_info;
        let mut m = ReportMacStruct::new_zeroed();
        m.report_type = [REPORT_TYPE_TDX, 0, 0, 0];
        m.cpusvn = platform.cpusvn;
        let mut r = TdReport {
            report_mac_struct: m,
            tee_tcb_info: tee,
            td_info,
        };
        r.report_mac_struct.tee_tcb_info_hash = Sha384::digest(r.tee_tcb_info_hashed()).into();
        r.report_mac_struct.tee_info_hash = Sha384::digest(td_info.as_bytes()).into();
        r.report_mac_struct.report_data = *report_data;
        r.report_mac_struct.mac = platform.mac(&r);
        Ok(r)
    }
}

/// Result of checking a TDREPORT's internal consistency (what `verify --tdreport` reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TdReportConsistency {
    /// REPORTTYPE.TYPE is 0x81.
    pub type_ok: bool,
    /// Reserved bytes are zero.
    pub reserved_ok: bool,
    /// SHA-384(TEE_TCB_INFO[0..239]) == TEE_TCB_INFO_HASH.
    pub tee_tcb_info_hash_ok: bool,
    /// SHA-384(TDINFO) == TEE_INFO_HASH.
    pub tee_info_hash_ok: bool,
}

/// Checks the hashes and reserved fields of a TDREPORT (the MAC needs the platform key; see module docs).
pub fn check_tdreport(r: &TdReport) -> TdReportConsistency {
    let m = &r.report_mac_struct;
    TdReportConsistency {
        type_ok: m.report_type[0] == REPORT_TYPE_TDX,
        reserved_ok: m._rsvd_0x04.iter().all(|b| *b == 0) && m._rsvd_0xc0.iter().all(|b| *b == 0),
        tee_tcb_info_hash_ok: <[u8; 48]>::from(Sha384::digest(r.tee_tcb_info_hashed()))
            == m.tee_tcb_info_hash,
        tee_info_hash_ok: <[u8; 48]>::from(Sha384::digest(r.td_info.as_bytes())) == m.tee_info_hash,
    }
}

/// The attestation side behind the memory model's TDG.MR.REPORT: a TD's measurements as the memory model
/// tracks them (ATTRIBUTES, MRTD, RTMRs) become a TDREPORT_STRUCT MACed by this platform, which the
/// quoting enclave of the same platform accepts. Install with
/// `module.report = Some(Box::new(platform))` on a [`crate::memory::seamcall::TdxModule`].
impl crate::memory::seamcall::ReportProvider for TdxPlatform {
    fn tdreport(
        &self,
        td: &crate::memory::seamcall::TdMeasurements,
        report_data: &[u8; 64],
    ) -> [u8; 1024] {
        let mut t = Td::with_mrtd(
            TdParams {
                attributes: td.attributes,
                ..TdParams::default()
            },
            td.mrtd,
        );
        t.rtmr = td.rtmr;
        let mut out = [0u8; 1024];
        if let Ok(r) = t.report(self, report_data) {
            out.copy_from_slice(r.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod report_provider_tests {
    use super::*;
    use crate::memory::seamcall::{ReportProvider, TdMeasurements};

    #[test]
    fn the_memory_models_tdreport_is_macd_and_quotable() {
        let p = TdxPlatform::new(7, [1; 16], [3; 16], [3; 16]);
        let m = TdMeasurements {
            attributes: crate::layout::tdreport::attributes::SEPT_VE_DISABLE,
            mrtd: [0x11; 48],
            rtmr: [[0x22; 48]; 4],
        };
        let raw = p.tdreport(&m, &[0x33; 64]);
        let r = TdReport::parse(&raw).expect("a TDREPORT_STRUCT");
        assert!(p.verify_report2(&r), "MAC checks on the same platform");
        assert_eq!(r.td_info.mrtd, [0x11; 48]);
        assert_eq!(r.td_info.rtmr, [[0x22; 48]; 4]);
        assert_eq!(r.report_mac_struct.report_data, [0x33; 64]);
        // Another platform's key does not verify it.
        assert!(!TdxPlatform::new(8, [1; 16], [3; 16], [3; 16]).verify_report2(&r));
        // The quoting enclave of the platform quotes it.
        let qe = crate::qe::QuotingEnclave::new(
            7,
            crate::pki::derive_key("tdx/pck", 7),
            String::new(),
            p,
        );
        let q = qe
            .quote(&r, crate::qe::QuoteVersion::V4)
            .expect("the QE accepts the report");
        assert_eq!(q.body.base().mrtd, [0x11; 48]);
    }
}
