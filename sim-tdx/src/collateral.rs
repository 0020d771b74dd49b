//! PCS collateral (tdx.md §3.3–3.5): TDX TCB info v3 and TD_QE identity JSON signed over their exact raw
//! bytes, the `QuoteCollateralV3` JSON bundle of dcap-qvl, the simulated TCB info that makes every TCB
//! status reachable, and the TCB-status evaluation of §3.5.

use serde::{Deserialize, Serialize};

use crate::pki::{sign_raw, IntelPki, PkiError};

/// A TCB status (Intel's names, as PCS and dcap-qvl spell them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcbStatus {
    /// UpToDate.
    UpToDate,
    /// SWHardeningNeeded.
    SWHardeningNeeded,
    /// ConfigurationNeeded.
    ConfigurationNeeded,
    /// ConfigurationAndSWHardeningNeeded.
    ConfigurationAndSWHardeningNeeded,
    /// OutOfDate.
    OutOfDate,
    /// OutOfDateConfigurationNeeded.
    OutOfDateConfigurationNeeded,
    /// Revoked.
    Revoked,
    /// TDRelaunchAdvised (TD 1.5: launch TCB out of date, current TCB up to date).
    TDRelaunchAdvised,
    /// TDRelaunchAdvisedConfigurationNeeded.
    TDRelaunchAdvisedConfigurationNeeded,
}

impl TcbStatus {
    /// Every status, in the order of this enum.
    pub const ALL: [TcbStatus; 9] = [
        TcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::Revoked,
        TcbStatus::TDRelaunchAdvised,
        TcbStatus::TDRelaunchAdvisedConfigurationNeeded,
    ];

    /// Intel's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
            TcbStatus::TDRelaunchAdvised => "TDRelaunchAdvised",
            TcbStatus::TDRelaunchAdvisedConfigurationNeeded => {
                "TDRelaunchAdvisedConfigurationNeeded"
            }
        }
    }

    /// Parses Intel's name (case-insensitive).
    pub fn parse(s: &str) -> Option<TcbStatus> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Intel `convergeTcbStatuses`: a component's status folded into the platform status (§3.5 step 4).
    pub fn converge_with(self, component: TcbStatus) -> TcbStatus {
        use TcbStatus::*;
        match (component, self) {
            (Revoked, _) => Revoked,
            (OutOfDate, UpToDate | SWHardeningNeeded) => OutOfDate,
            (OutOfDate, ConfigurationNeeded | ConfigurationAndSWHardeningNeeded) => {
                OutOfDateConfigurationNeeded
            }
            _ => self,
        }
    }

    /// TD 1.5 relaunch rule (§3.5 step 6): launch status `self`, current status `current`.
    pub fn relaunch(self, current: TcbStatus) -> TcbStatus {
        use TcbStatus::*;
        let conf = |s| {
            matches!(
                s,
                ConfigurationNeeded
                    | OutOfDateConfigurationNeeded
                    | ConfigurationAndSWHardeningNeeded
                    | TDRelaunchAdvisedConfigurationNeeded
            )
        };
        match (self, current) {
            (
                OutOfDate | OutOfDateConfigurationNeeded,
                UpToDate
                | SWHardeningNeeded
                | ConfigurationNeeded
                | ConfigurationAndSWHardeningNeeded,
            ) => {
                if conf(self) || conf(current) {
                    TDRelaunchAdvisedConfigurationNeeded
                } else {
                    TDRelaunchAdvised
                }
            }
            _ => self,
        }
    }
}

impl std::fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One TCB component of a level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcbComponent {
    /// Minimum SVN.
    pub svn: u16,
    /// Category (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Type (informational).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The `tcb` object of a TDX TCB level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tcb {
    /// 16 SGX (CPU) components.
    pub sgxtcbcomponents: Vec<TcbComponent>,
    /// Minimum PCE SVN.
    pub pcesvn: u16,
    /// 16 TDX components.
    #[serde(default)]
    pub tdxtcbcomponents: Vec<TcbComponent>,
}

/// A platform TCB level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbLevel {
    /// Minimum SVNs.
    pub tcb: Tcb,
    /// TCB date (RFC 3339).
    pub tcb_date: String,
    /// Status of platforms at this level.
    pub tcb_status: TcbStatus,
    /// Advisories.
    #[serde(rename = "advisoryIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub advisory_ids: Vec<String>,
}

/// `{"isvsvn": N}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsvSvn {
    /// Minimum ISV SVN.
    pub isvsvn: u16,
}

/// A TDX module (or QE) TCB level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsvTcbLevel {
    /// Minimum ISV SVN.
    pub tcb: IsvSvn,
    /// TCB date.
    pub tcb_date: String,
    /// Status.
    pub tcb_status: TcbStatus,
    /// Advisories.
    #[serde(rename = "advisoryIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub advisory_ids: Vec<String>,
}

/// `tdxModule`: the base module identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModule {
    /// MRSIGNERSEAM (48 bytes hex).
    pub mrsigner: String,
    /// SEAM attributes (8 bytes hex).
    pub attributes: String,
    /// Mask (8 bytes hex).
    pub attributes_mask: String,
}

/// One `tdxModuleIdentities` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModuleIdentity {
    /// `TDX_%02X` of the module major version.
    pub id: String,
    /// MRSIGNERSEAM.
    pub mrsigner: String,
    /// SEAM attributes.
    pub attributes: String,
    /// Mask.
    pub attributes_mask: String,
    /// Levels by module ISV SVN.
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// TDX TCB info v3 (the signed inner object of the PCS response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbInfo {
    /// "TDX".
    pub id: String,
    /// 3.
    pub version: u32,
    /// Issue date.
    pub issue_date: String,
    /// Next update.
    pub next_update: String,
    /// FMSPC (12 hex digits).
    pub fmspc: String,
    /// PCE ID (4 hex digits).
    pub pce_id: String,
    /// 0.
    pub tcb_type: u32,
    /// TCB evaluation data number.
    pub tcb_evaluation_data_number: u32,
    /// Base TDX module identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdx_module: Option<TdxModule>,
    /// Module identities by major version.
    #[serde(
        rename = "tdxModuleIdentities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tdx_module_identities: Vec<TdxModuleIdentity>,
    /// Platform TCB levels.
    pub tcb_levels: Vec<TcbLevel>,
}

/// QE identity (id "TD_QE", version 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QeIdentity {
    /// "TD_QE".
    pub id: String,
    /// 2.
    pub version: u32,
    /// Issue date.
    pub issue_date: String,
    /// Next update.
    pub next_update: String,
    /// TCB evaluation data number.
    pub tcb_evaluation_data_number: u32,
    /// MISCSELECT (8 hex digits).
    pub miscselect: String,
    /// Mask.
    pub miscselect_mask: String,
    /// ATTRIBUTES (32 hex digits).
    pub attributes: String,
    /// Mask.
    pub attributes_mask: String,
    /// MRSIGNER (64 hex digits).
    pub mrsigner: String,
    /// ISVPRODID.
    pub isvprodid: u16,
    /// Levels by QE ISV SVN.
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// dcap-qvl's `QuoteCollateralV3` in its JSON form (byte fields as hex strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collateral {
    /// PEM: PCK CA ‖ root.
    pub pck_crl_issuer_chain: String,
    /// Root CA CRL DER, hex.
    pub root_ca_crl: String,
    /// PCK CRL DER, hex.
    pub pck_crl: String,
    /// PEM: TCB Signing ‖ root.
    pub tcb_info_issuer_chain: String,
    /// The raw TCB info JSON, exactly as signed.
    pub tcb_info: String,
    /// r ‖ s hex.
    pub tcb_info_signature: String,
    /// PEM: TCB Signing ‖ root.
    pub qe_identity_issuer_chain: String,
    /// The raw QE identity JSON, exactly as signed.
    pub qe_identity: String,
    /// r ‖ s hex.
    pub qe_identity_signature: String,
    /// PEM PCK chain (needed only for certification data type 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pck_certificate_chain: Option<String>,
}

/// Errors in collateral.
#[derive(Debug, thiserror::Error)]
pub enum CollateralError {
    /// JSON could not be read.
    #[error("{what}: {err}")]
    Json {
        /// Which document.
        what: &'static str,
        /// serde_json's message.
        err: String,
    },
    /// A PCS response does not have the `{"<key>":{...},"signature":"..."}` shape.
    #[error("{0}: not a signed PCS response")]
    Shape(&'static str),
    /// PKI issuance failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// Splits a PCS response `{"<key>":<raw>,"signature":"<hex>"}` into the raw signed bytes and the
/// signature hex, without re-serializing (tdx.md §3.3).
pub fn split_pcs_response<'a>(
    body: &'a str,
    key: &str,
    what: &'static str,
) -> Result<(&'a str, String), CollateralError> {
    let t = body.trim();
    let prefix = format!("{{\"{key}\":");
    let rest = t
        .strip_prefix(&prefix)
        .ok_or(CollateralError::Shape(what))?;
    let sig_at = rest
        .rfind(",\"signature\"")
        .ok_or(CollateralError::Shape(what))?;
    let raw = rest.get(..sig_at).ok_or(CollateralError::Shape(what))?;
    let v: serde_json::Value = serde_json::from_str(t).map_err(|e| CollateralError::Json {
        what,
        err: e.to_string(),
    })?;
    let sig = v
        .get("signature")
        .and_then(|s| s.as_str())
        .ok_or(CollateralError::Shape(what))?;
    Ok((raw, sig.to_string()))
}

impl Collateral {
    /// Builds the bundle from PCS responses (TCB info and QE identity bodies), the two CRLs (DER) and
    /// the issuer chains (PEM).
    pub fn from_pcs(
        tcb_info_response: &str,
        qe_identity_response: &str,
        root_ca_crl: &[u8],
        pck_crl: &[u8],
        tcb_issuer_chain: &str,
        pck_crl_issuer_chain: &str,
    ) -> Result<Collateral, CollateralError> {
        let (tcb, tcb_sig) = split_pcs_response(tcb_info_response, "tcbInfo", "TCB info")?;
        let (qe, qe_sig) =
            split_pcs_response(qe_identity_response, "enclaveIdentity", "QE identity")?;
        Ok(Collateral {
            pck_crl_issuer_chain: pck_crl_issuer_chain.to_string(),
            root_ca_crl: hex::encode(root_ca_crl),
            pck_crl: hex::encode(pck_crl),
            tcb_info_issuer_chain: tcb_issuer_chain.to_string(),
            tcb_info: tcb.to_string(),
            tcb_info_signature: tcb_sig,
            qe_identity_issuer_chain: tcb_issuer_chain.to_string(),
            qe_identity: qe.to_string(),
            qe_identity_signature: qe_sig,
            pck_certificate_chain: None,
        })
    }

    /// Parses the JSON bundle.
    pub fn from_json(text: &str) -> Result<Collateral, CollateralError> {
        serde_json::from_str(text).map_err(|e| CollateralError::Json {
            what: "collateral",
            err: e.to_string(),
        })
    }

    /// Pretty JSON of the bundle.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The simulated TD_QE's MRSIGNER (Intel's real TD-QE signer, so QE identities look real).
pub const TD_QE_MRSIGNER: [u8; 32] = [
    0xDC, 0x9E, 0x2A, 0x7C, 0x6F, 0x94, 0x8F, 0x17, 0x47, 0x4E, 0x34, 0xA7, 0xFC, 0x43, 0xED, 0x03,
    0x0F, 0x7C, 0x15, 0x63, 0xF1, 0xBA, 0xBD, 0xDF, 0x63, 0x40, 0xC8, 0x2E, 0x0E, 0x54, 0xA8, 0xC5,
];
/// TD_QE ISVPRODID.
pub const TD_QE_ISVPRODID: u16 = 2;
/// The simulated QE's ISVSVN (its level is UpToDate).
pub const TD_QE_ISVSVN: u16 = 4;
/// The simulated platform's baseline CPU SVN components (those of a real SPR TCB level).
pub const SIM_CPUSVN: [u8; 16] = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
/// The simulated PCE SVN.
pub const SIM_PCESVN: u16 = 13;
/// The simulated TDX module ISV SVN (`TEE_TCB_SVN[0]`, UpToDate in the module identity).
pub const SIM_MODULE_ISVSVN: u8 = 5;
/// The simulated TDX module major version (`TEE_TCB_SVN[1]`, identity `TDX_01`).
pub const SIM_MODULE_VERSION: u8 = 1;

/// The late-microcode SVN (`TEE_TCB_SVN[2]`) that selects each platform status in the simulated TCB
/// info: the first level a platform meets decides its status, so each status has its own threshold.
pub const fn ucode_svn_for(status: TcbStatus) -> Option<u8> {
    match status {
        TcbStatus::UpToDate => Some(8),
        TcbStatus::SWHardeningNeeded => Some(7),
        TcbStatus::ConfigurationNeeded => Some(6),
        TcbStatus::ConfigurationAndSWHardeningNeeded => Some(5),
        TcbStatus::OutOfDate => Some(4),
        TcbStatus::OutOfDateConfigurationNeeded => Some(3),
        TcbStatus::Revoked => Some(2),
        TcbStatus::TDRelaunchAdvised | TcbStatus::TDRelaunchAdvisedConfigurationNeeded => None,
    }
}

/// TEE_TCB_SVN (launch) and TEE_TCB_SVN2 (current) giving `status` with the simulated TCB info.
/// The TDRelaunchAdvised statuses need a TD 1.5 (v5) quote, where the two differ.
pub fn tee_tcb_svns_for(status: TcbStatus) -> ([u8; 16], [u8; 16]) {
    let svn = |ucode: u8| {
        let mut s = [0u8; 16];
        s[0] = SIM_MODULE_ISVSVN;
        s[1] = SIM_MODULE_VERSION;
        s[2] = ucode;
        s
    };
    match status {
        TcbStatus::TDRelaunchAdvised => (svn(4), svn(8)),
        TcbStatus::TDRelaunchAdvisedConfigurationNeeded => (svn(3), svn(6)),
        other => {
            let s = svn(ucode_svn_for(other).unwrap_or(8));
            (s, s)
        }
    }
}

fn comps(svns: &[u8; 16], names: &[(&str, &str)]) -> Vec<TcbComponent> {
    svns.iter()
        .enumerate()
        .map(|(i, s)| TcbComponent {
            svn: u16::from(*s),
            category: names.get(i).map(|n| n.0.to_string()),
            kind: names
                .get(i)
                .and_then(|n| (!n.1.is_empty()).then(|| n.1.to_string())),
        })
        .collect()
}

/// Issues the simulated TDX TCB info (v3) for `fmspc`: one level per platform status (selected by the
/// late-microcode SVN, see [`ucode_svn_for`]) and module identity `TDX_01` (ISV SVN ≥ 5 UpToDate,
/// ≥ 3 OutOfDate). Returns the raw JSON (the signed bytes).
pub fn sim_tcb_info(fmspc: &[u8; 6], issued: i64, validity: i64) -> String {
    let date = sim_core::time::to_rfc3339;
    let sgx_names: [(&str, &str); 8] = [
        ("BIOS", "Early Microcode Update"),
        ("OS/VMM", "SGX Late Microcode Update"),
        ("OS/VMM", "TXT SINIT"),
        ("BIOS", ""),
        ("BIOS", ""),
        ("BIOS", ""),
        ("", ""),
        ("OS/VMM", "SEAMLDR ACM"),
    ];
    let tdx_names: [(&str, &str); 3] = [
        ("OS/VMM", "TDX Module"),
        ("OS/VMM", "TDX Module"),
        ("OS/VMM", "TDX Late Microcode Update"),
    ];
    let strip = |v: Vec<TcbComponent>| -> Vec<TcbComponent> {
        v.into_iter()
            .map(|mut c| {
                if c.category.as_deref() == Some("") {
                    c.category = None;
                }
                c
            })
            .collect()
    };
    let statuses = [
        TcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::Revoked,
    ];
    let levels = statuses
        .iter()
        .map(|st| {
            let ucode = ucode_svn_for(*st).unwrap_or(0);
            let mut tdx = [0u8; 16];
            tdx[0] = SIM_MODULE_ISVSVN;
            tdx[2] = ucode;
            let advisory_ids = match st {
                TcbStatus::UpToDate => vec![],
                _ => vec![format!("INTEL-SA-SIM-{ucode:04}")],
            };
            TcbLevel {
                tcb: Tcb {
                    sgxtcbcomponents: strip(comps(&SIM_CPUSVN, &sgx_names)),
                    pcesvn: SIM_PCESVN,
                    tdxtcbcomponents: comps(&tdx, &tdx_names),
                },
                tcb_date: date(issued - i64::from(10 - ucode) * 30 * 86_400),
                tcb_status: *st,
                advisory_ids,
            }
        })
        .collect();
    let zeros48 = "0".repeat(96);
    let info = TcbInfo {
        id: "TDX".into(),
        version: 3,
        issue_date: date(issued),
        next_update: date(issued + validity),
        fmspc: hex::encode(fmspc),
        pce_id: "0000".into(),
        tcb_type: 0,
        tcb_evaluation_data_number: 17,
        tdx_module: Some(TdxModule {
            mrsigner: zeros48.clone(),
            attributes: "0000000000000000".into(),
            attributes_mask: "FFFFFFFFFFFFFFFF".into(),
        }),
        tdx_module_identities: vec![TdxModuleIdentity {
            id: format!("TDX_{SIM_MODULE_VERSION:02X}"),
            mrsigner: zeros48,
            attributes: "0000000000000000".into(),
            attributes_mask: "FFFFFFFFFFFFFFFF".into(),
            tcb_levels: vec![
                IsvTcbLevel {
                    tcb: IsvSvn {
                        isvsvn: u16::from(SIM_MODULE_ISVSVN),
                    },
                    tcb_date: date(issued - 30 * 86_400),
                    tcb_status: TcbStatus::UpToDate,
                    advisory_ids: vec![],
                },
                IsvTcbLevel {
                    tcb: IsvSvn { isvsvn: 3 },
                    tcb_date: date(issued - 300 * 86_400),
                    tcb_status: TcbStatus::OutOfDate,
                    advisory_ids: vec!["INTEL-SA-SIM-0100".into()],
                },
            ],
        }],
        tcb_levels: levels,
    };
    serde_json::to_string(&info).unwrap_or_default()
}

/// Issues the simulated TD_QE identity (v2): Intel's TD-QE MRSIGNER, ISVPRODID 2, ISV SVN ≥ 4 UpToDate.
pub fn sim_qe_identity(issued: i64, validity: i64) -> String {
    let date = sim_core::time::to_rfc3339;
    let id = QeIdentity {
        id: "TD_QE".into(),
        version: 2,
        issue_date: date(issued),
        next_update: date(issued + validity),
        tcb_evaluation_data_number: 17,
        miscselect: "00000000".into(),
        miscselect_mask: "FFFFFFFF".into(),
        attributes: "11000000000000000000000000000000".into(),
        attributes_mask: "FBFFFFFFFFFFFFFF0000000000000000".into(),
        mrsigner: hex::encode_upper(TD_QE_MRSIGNER),
        isvprodid: TD_QE_ISVPRODID,
        tcb_levels: vec![IsvTcbLevel {
            tcb: IsvSvn {
                isvsvn: TD_QE_ISVSVN,
            },
            tcb_date: date(issued - 60 * 86_400),
            tcb_status: TcbStatus::UpToDate,
            advisory_ids: vec![],
        }],
    };
    serde_json::to_string(&id).unwrap_or_default()
}

/// Signs the simulated TCB info and QE identity with the TCB Signing key and bundles everything.
pub fn sim_collateral(pki: &IntelPki, fmspc: &[u8; 6], issued: i64, validity: i64) -> Collateral {
    let tcb_info = sim_tcb_info(fmspc, issued, validity);
    let qe_identity = sim_qe_identity(issued, validity);
    let chain = pki.tcb_issuer_chain_pem();
    Collateral {
        pck_crl_issuer_chain: pki.pck_crl_issuer_chain_pem(),
        root_ca_crl: hex::encode(&pki.root_crl_der),
        pck_crl: hex::encode(&pki.pck_crl_der),
        tcb_info_issuer_chain: chain.clone(),
        tcb_info_signature: hex::encode(sign_raw(&pki.tcb_key, tcb_info.as_bytes())),
        tcb_info,
        qe_identity_issuer_chain: chain,
        qe_identity_signature: hex::encode(sign_raw(&pki.tcb_key, qe_identity.as_bytes())),
        qe_identity,
        pck_certificate_chain: None,
    }
}
