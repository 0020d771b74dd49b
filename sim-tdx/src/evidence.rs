//! The evidence bundle `cvmsim tdx quote` writes: a TD built and measured on a simulated platform, its
//! TDREPORT, the quote the QE signs, the PCK chain and the PCS collateral that make it verify with the
//! chosen TCB status (tdx.md §3.5), and a JSON summary.

use zerocopy::IntoBytes;

use crate::collateral::{
    sim_collateral, tee_tcb_svns_for, Collateral, TcbStatus, SIM_CPUSVN, SIM_PCESVN,
};
use crate::layout::tdreport::attributes;
use crate::layout::TdReport;
use crate::measure::{tdvf_mrtd, PageAddOrder};
use crate::module::{Td, TdParams, TdxPlatform};
use crate::pki::{derive_key, IntelPki, PckIdentity, Revocations};
use crate::qe::{QuoteVersion, QuotingEnclave};
use crate::quote::Quote;

/// The simulated platform's FMSPC.
pub const SIM_FMSPC: [u8; 6] = [0x90, 0xC0, 0x6F, 0x00, 0x00, 0x00];
/// Default collateral and CRL validity: 10 years, so default evidence verifies for years (Intel's
/// collateral is valid 30 days; pass a shorter validity to model that).
pub const DEFAULT_VALIDITY: i64 = 3650 * 86_400;

/// How the TD is measured.
#[derive(Clone, Debug)]
pub enum Measurement {
    /// A small built-in TD image from the seed (4 measured pages).
    Builtin,
    /// A given MRTD.
    Mrtd([u8; 48]),
    /// A TDVF firmware image (MRTD by its metadata).
    Tdvf(Vec<u8>),
}

/// Options of `cvmsim tdx quote`.
#[derive(Clone, Debug)]
pub struct QuoteOptions {
    /// Platform seed.
    pub seed: u64,
    /// 4 or 5 (or None: the TDQE's own choice).
    pub version: Option<u16>,
    /// REPORTDATA.
    pub report_data: [u8; 64],
    /// Requested TCB status.
    pub status: TcbStatus,
    /// TD ATTRIBUTES (default SEPT_VE_DISABLE).
    pub attributes: u64,
    /// XFAM.
    pub xfam: u64,
    /// Measurement.
    pub measurement: Measurement,
    /// RTMR extensions (index, 48-byte data), applied in order.
    pub rtmr_extends: Vec<(u64, [u8; 48])>,
    /// Issue time of certificates and collateral (Unix seconds).
    pub issued: i64,
    /// Collateral and CRL validity (seconds).
    pub validity: i64,
    /// Put the PCK certificate on the PCK CRL.
    pub revoke_pck: bool,
}

impl Default for QuoteOptions {
    fn default() -> Self {
        QuoteOptions {
            seed: 0,
            version: None,
            report_data: [0; 64],
            status: TcbStatus::UpToDate,
            attributes: attributes::SEPT_VE_DISABLE,
            xfam: 0x0006_02E7,
            measurement: Measurement::Builtin,
            rtmr_extends: Vec::new(),
            issued: sim_core::time::ISSUE_EPOCH,
            validity: DEFAULT_VALIDITY,
            revoke_pck: false,
        }
    }
}

/// Errors of evidence generation.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The options cannot be satisfied.
    #[error("{0}")]
    Options(String),
    /// A TDVF image could not be parsed.
    #[error("TDVF: {0}")]
    Tdvf(#[from] sim_core::parse::ParseError),
    /// PKI issuance failed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The TDX module refused.
    #[error("TDX module: {0}")]
    Module(#[from] crate::module::TdxError),
    /// The QE refused.
    #[error("QE: {0}")]
    Qe(#[from] crate::qe::QeError),
}

/// Everything `quote` writes.
pub struct Bundle {
    /// The TDREPORT.
    pub tdreport: TdReport,
    /// The quote.
    pub quote: Quote,
    /// The collateral.
    pub collateral: Collateral,
    /// Root certificate DER.
    pub root_der: Vec<u8>,
    /// The options' status (what the verifier should find).
    pub expected_status: TcbStatus,
}

/// The PCK identity of the platform `seed`.
pub fn pck_identity(seed: u64) -> PckIdentity {
    PckIdentity {
        ppid: sim_core::rng::bytes::<16>("tdx/ppid", seed),
        cpusvn: SIM_CPUSVN,
        pcesvn: SIM_PCESVN,
        pceid: [0, 0],
        fmspc: SIM_FMSPC,
        sgx_type: 1,
        platform_instance_id: sim_core::rng::bytes::<16>("tdx/platform-instance-id", seed),
        configuration: [false, true, true],
    }
}

/// Builds the evidence bundle.
pub fn generate(o: &QuoteOptions) -> Result<Bundle, EvidenceError> {
    let relaunch = matches!(
        o.status,
        TcbStatus::TDRelaunchAdvised | TcbStatus::TDRelaunchAdvisedConfigurationNeeded
    );
    let version = match (o.version, relaunch) {
        (Some(4), true) => {
            return Err(EvidenceError::Options(format!(
                "{} needs a TD 1.5 quote (version 5): TEE_TCB_SVN2 must differ from TEE_TCB_SVN",
                o.status
            )))
        }
        (Some(4), false) => QuoteVersion::V4,
        (Some(5), _) => QuoteVersion::V5,
        (None, _) => QuoteVersion::Auto,
        (Some(v), _) => return Err(EvidenceError::Options(format!("quote version {v}: 4 or 5"))),
    };
    let (svn, svn2) = tee_tcb_svns_for(o.status);
    let platform = TdxPlatform::new(o.seed, SIM_CPUSVN, svn, svn2);
    let pck_key = derive_key("tdx/pck", o.seed);
    let rev = Revocations {
        pck: if o.revoke_pck {
            vec![IntelPki::pck_serial(&pck_key)?]
        } else {
            vec![]
        },
        root: vec![],
    };
    let pki = IntelPki::new(o.issued, o.validity, &rev)?;
    let pck_der = pki.issue_pck(&pck_key, &pck_identity(o.seed))?;
    let chain = sim_core::x509::to_pem("CERTIFICATE", &pck_der)
        + &sim_core::x509::to_pem("CERTIFICATE", &pki.pck_ca_der)
        + &sim_core::x509::to_pem("CERTIFICATE", &pki.root_der);
    let params = TdParams {
        attributes: o.attributes,
        xfam: o.xfam,
        ..TdParams::default()
    };
    let mut td = match &o.measurement {
        Measurement::Mrtd(m) => Td::with_mrtd(params, *m),
        Measurement::Tdvf(fw) => Td::with_mrtd(params, tdvf_mrtd(fw, PageAddOrder::SinglePass)?),
        Measurement::Builtin => {
            let mut td = Td::create(params);
            for p in 0..4u64 {
                let mut page = [0u8; 4096];
                let mut rng = sim_core::rng::seeded("tdx/td-image", o.seed.wrapping_add(p));
                rand_core::RngCore::fill_bytes(&mut rng, &mut page);
                td.add_measured_page(0xFFFF_C000 + p * 4096, &page)?;
            }
            td.finalize()?;
            td
        }
    };
    for (i, d) in &o.rtmr_extends {
        td.rtmr_extend(*i, d)?;
    }
    let tdreport = td.report(&platform, &o.report_data)?;
    let qe = QuotingEnclave::new(o.seed, pck_key, chain, platform);
    let quote = qe.quote(&tdreport, version)?;
    let collateral = sim_collateral(&pki, &SIM_FMSPC, o.issued, o.validity);
    Ok(Bundle {
        tdreport,
        quote,
        collateral,
        root_der: pki.root_der.clone(),
        expected_status: o.status,
    })
}

/// `quote.json`: what the bundle claims (a struct, so the key order is fixed).
#[derive(serde::Serialize)]
struct Summary {
    quote_version: u16,
    body_type: u16,
    expected_tcb_status: &'static str,
    mrtd: String,
    rtmr: Vec<String>,
    report_data: String,
    td_attributes: String,
    tee_tcb_svn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tee_tcb_svn2: Option<String>,
    fmspc: String,
    note: &'static str,
}

impl Bundle {
    /// The files of the bundle, as `quote --out` writes them.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let b = self.quote.body.base();
        let summary = Summary {
            quote_version: self.quote.version(),
            body_type: self.quote.body.body_type(),
            expected_tcb_status: self.expected_status.as_str(),
            mrtd: hex::encode(b.mrtd),
            rtmr: b.rtmr.iter().map(hex::encode).collect(),
            report_data: hex::encode(b.report_data),
            td_attributes: hex::encode(b.td_attributes.as_bytes()),
            tee_tcb_svn: hex::encode(b.tee_tcb_svn),
            tee_tcb_svn2: self.quote.body.td15().map(|t| hex::encode(t.tee_tcb_svn2)),
            fmspc: hex::encode_upper(SIM_FMSPC),
            note: "simulated by cvmsim: verify with root_ca.der, not Intel's root",
        };
        vec![
            ("quote.bin".into(), self.quote.encode()),
            (
                "collateral.json".into(),
                self.collateral.to_json().into_bytes(),
            ),
            ("root_ca.der".into(), self.root_der.clone()),
            ("tdreport.bin".into(), self.tdreport.as_bytes().to_vec()),
            (
                "quote.json".into(),
                serde_json::to_string_pretty(&summary)
                    .unwrap_or_default()
                    .into_bytes(),
            ),
        ]
    }
}
