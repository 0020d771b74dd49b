//! The TD quoting enclave (TDQE) model: checks a TDREPORT like the real TDQE (`quoting_enclave_tdqe.cpp`,
//! tdx.md §1.3) and signs a quote v4 or v5 with its ECDSA P-256 attestation key; its QE report binds the
//! attestation key (REPORTDATA = SHA-256(key ‖ QE auth data) ‖ zeros) and is signed by the PCK key.

use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256, Sha384};
use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromZeros, IntoBytes};

use crate::collateral::{TD_QE_ISVPRODID, TD_QE_ISVSVN, TD_QE_MRSIGNER};
use crate::layout::quote::{ATT_KEY_TYPE_ECDSA_P256, INTEL_QE_VENDOR_ID, TEE_TYPE_TDX};
use crate::layout::{EnclaveReport, QuoteHeader, TdReport, TdReportBody10, TdReportBody15};
use crate::module::TdxPlatform;
use crate::pki::{derive_key, raw_public, sign_raw};
use crate::quote::{QeCertData, Quote, TdBody, CERT_TYPE_PCK_CHAIN};

/// Why the QE refused a TDREPORT.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QeError {
    /// EVERIFYREPORT2 failed: the MAC was not made on this platform.
    #[error("TDREPORT MAC does not verify (EVERIFYREPORT2)")]
    BadMac,
    /// REPORTTYPE is not a TDX report of version 0 or 1.
    #[error("REPORTTYPE {0:02x?} is not TDX version 0/1")]
    ReportType([u8; 4]),
    /// VALID bits of TEE_TCB_INFO are not a value the TDQE accepts.
    #[error("TEE_TCB_INFO.VALID {0:02x?} not accepted")]
    Valid([u8; 8]),
    /// A hash inside the TDREPORT does not match.
    #[error("{0} does not match")]
    Hash(&'static str),
    /// Requested quote version cannot carry this report.
    #[error("quote version {0} not supported (4 or 5)")]
    Version(u16),
}

/// Which quote version to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteVersion {
    /// The TDQE's own rule (tdx.md §1.3): v5 iff a service TD is bound or TEE_TCB_SVN2 ≠ TEE_TCB_SVN.
    Auto,
    /// Force v4 (TD 1.0 body).
    V4,
    /// Force v5 (body type 3, TD 1.5).
    V5,
}

/// The quoting enclave of one platform.
pub struct QuotingEnclave {
    /// Attestation key.
    pub att_key: SigningKey,
    /// PCK private key (signs the QE report).
    pub pck_key: SigningKey,
    /// PEM PCK chain (leaf ‖ PCK CA ‖ root) put in the certification data, NUL-terminated as real ones.
    pub pck_chain_pem: String,
    /// QE ID (header user_data[0..16]).
    pub qe_id: [u8; 16],
    /// The platform (for EVERIFYREPORT2 and CPUSVN).
    pub platform: TdxPlatform,
}

impl QuotingEnclave {
    /// A QE for `seed` with the platform's PCK key and chain.
    pub fn new(
        seed: u64,
        pck_key: SigningKey,
        pck_chain_pem: String,
        platform: TdxPlatform,
    ) -> Self {
        QuotingEnclave {
            att_key: derive_key("tdx/attestation-key", seed),
            pck_key,
            pck_chain_pem,
            qe_id: sim_core::rng::bytes::<16>("tdx/qe-id", seed),
            platform,
        }
    }

    /// The QE's own SGX report (binding `att_key` via REPORTDATA).
    pub fn qe_report(&self, auth: &[u8]) -> EnclaveReport {
        let mut r = EnclaveReport::new_zeroed();
        r.cpusvn = self.platform.cpusvn;
        r.miscselect = U32::new(0);
        r.attributes = [0x15, 0, 0, 0, 0, 0, 0, 0, 0xE7, 0, 0, 0, 0, 0, 0, 0];
        r.mrenclave = Sha256::digest(b"cvmsim simulated TD quoting enclave").into();
        r.mrsigner = TD_QE_MRSIGNER;
        r.isvprodid = U16::new(TD_QE_ISVPRODID);
        r.isvsvn = U16::new(TD_QE_ISVSVN);
        let mut h = Sha256::new();
        h.update(raw_public(&self.att_key));
        h.update(auth);
        r.report_data[..32].copy_from_slice(&h.finalize());
        r
    }

    /// Checks `report` as the TDQE does and signs a quote.
    pub fn quote(&self, report: &TdReport, version: QuoteVersion) -> Result<Quote, QeError> {
        let m = &report.report_mac_struct;
        let t = &report.tee_tcb_info;
        if m.report_type[0] != 0x81 || m.report_type[1] != 0 || m.report_type[2] > 1 {
            return Err(QeError::ReportType(m.report_type));
        }
        let v = t.valid;
        if v[0] != 0xFF
            || v[1] != 0x01
            || !(v[2] == 0 || v[2] == 3)
            || v[3..].iter().any(|b| *b != 0)
        {
            return Err(QeError::Valid(v));
        }
        if !self.platform.verify_report2(report) {
            return Err(QeError::BadMac);
        }
        if <[u8; 48]>::from(Sha384::digest(report.tee_tcb_info_hashed())) != m.tee_tcb_info_hash {
            return Err(QeError::Hash("TEE_TCB_INFO_HASH"));
        }
        if <[u8; 48]>::from(Sha384::digest(report.td_info.as_bytes())) != m.tee_info_hash {
            return Err(QeError::Hash("TEE_INFO_HASH"));
        }
        let td15 = m.report_type[2] == 1 || (v[2] == 3 && t.tee_tcb_svn2 != t.tee_tcb_svn);
        let v5 = match version {
            QuoteVersion::Auto => td15,
            QuoteVersion::V4 => false,
            QuoteVersion::V5 => true,
        };
        let i = &report.td_info;
        let base = TdReportBody10 {
            tee_tcb_svn: t.tee_tcb_svn,
            mrseam: t.mrseam,
            mrsignerseam: t.mrsignerseam,
            seam_attributes: t.attributes,
            td_attributes: i.attributes,
            xfam: i.xfam,
            mrtd: i.mrtd,
            mrconfigid: i.mrconfigid,
            mrowner: i.mrowner,
            mrownerconfig: i.mrownerconfig,
            rtmr: i.rtmr,
            report_data: m.report_data,
        };
        let body = if v5 {
            TdBody::Td15(TdReportBody15 {
                base,
                tee_tcb_svn2: if v[2] == 3 {
                    t.tee_tcb_svn2
                } else {
                    t.tee_tcb_svn
                },
                mrservicetd: i.servtd_hash,
            })
        } else {
            TdBody::Td10(base)
        };
        let mut user_data = [0u8; 20];
        user_data[..16].copy_from_slice(&self.qe_id);
        let header = QuoteHeader {
            version: U16::new(if v5 { 5 } else { 4 }),
            att_key_type: U16::new(ATT_KEY_TYPE_ECDSA_P256),
            tee_type: U32::new(TEE_TYPE_TDX),
            reserved: [0; 4],
            qe_vendor_id: INTEL_QE_VENDOR_ID,
            user_data,
        };
        let auth: Vec<u8> = (0u8..32).collect();
        let qe_report = self.qe_report(&auth);
        let mut pck_chain = self.pck_chain_pem.as_bytes().to_vec();
        pck_chain.push(0);
        let mut q = Quote {
            header,
            body,
            signature: [0; 64],
            attestation_key: raw_public(&self.att_key),
            cert: QeCertData {
                qe_report_signature: sign_raw(&self.pck_key, qe_report.as_bytes()),
                qe_report,
                qe_auth_data: auth,
                inner_type: CERT_TYPE_PCK_CHAIN,
                pck_chain,
            },
            trailing: Vec::new(),
        };
        q.signature = sign_raw(&self.att_key, &q.signed_bytes());
        Ok(q)
    }
}
