//! The files a user or verifier receives for one simulated guest (contract `cli.md`, `snp report`):
//!
//! | file | what |
//! |---|---|
//! | `report.bin` | the 1184-byte ATTESTATION_REPORT |
//! | `vcek.der` / `vlek.der` | the signing key's certificate, DER, as the KDS serves it |
//! | `ask.pem` / `asvk.pem` | the intermediate CA, PEM |
//! | `ark.pem` | the root, PEM |
//! | `cert_chain.pem` | ASK (or ASVK) then ARK, as the KDS `cert_chain` serves it |
//! | `certs.bin` | the extended-report certificate table (ARK, ASK/ASVK, VCEK/VLEK) |
//! | `report.json` | every field of the report, decoded |
//!
//! The names are those snpguest uses (`snpguest certificates pem DIR` writes `ark.pem`, `ask.pem`,
//! `vcek.pem`), so its `verify` commands can read the folder.

use rand_core::RngCore;

use crate::layout::page_info::PageType;
use crate::layout::policy::SigningKey;
use crate::layout::{GuestPolicy, TcbVersion};
use crate::measure::{self, MeasureInput, VmmType};
use crate::pki::Endorsement;
use crate::product::Product;
use crate::report::{AttestationReport, ReportVersion};
use crate::sp::launch::PAGE_SIZE;
use crate::sp::{GuestDriver, Platform, PlatformConfig, VlekConfig};

/// Which key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The chip's VCEK (KEY_SEL 1).
    Vcek,
    /// A loaded VLEK (KEY_SEL 2).
    Vlek,
}

/// What to issue.
#[derive(Clone, Debug)]
pub struct ReportSpec {
    /// Product.
    pub product: Product,
    /// Chip seed.
    pub seed: u64,
    /// Report version (default: the product's firmware default).
    pub report_version: Option<ReportVersion>,
    /// REPORT_DATA.
    pub report_data: [u8; 64],
    /// VMPL the guest asks for (and whose VMPCK it uses).
    pub vmpl: u32,
    /// Guest policy.
    pub policy: GuestPolicy,
    /// Platform TCB (committed = current = reported); default: the product's.
    pub tcb: Option<TcbVersion>,
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// VCEK or VLEK.
    pub signer: Signer,
    /// What the guest launches; default: a one-page synthetic image and one QEMU vCPU.
    pub launch: Option<MeasureInput>,
    /// PLATFORM_INFO override.
    pub platform_info: Option<u64>,
    /// Certificate issue time (Unix seconds).
    pub issued_at: i64,
    /// MASK_CHIP_ID (SNP_CONFIG): CHIP_ID reads as zero.
    pub mask_chip_id: bool,
    /// REPORTED_TCB set by SNP_CONFIG (must be ≤ the platform TCB).
    pub reported_tcb: Option<TcbVersion>,
}

impl ReportSpec {
    /// Defaults for `product` and `seed`: report data zero, VMPL 0, policy 0x30000, VCEK.
    pub fn new(product: Product, seed: u64) -> Self {
        ReportSpec {
            product,
            seed,
            report_version: None,
            report_data: [0; 64],
            vmpl: 0,
            policy: GuestPolicy::DEFAULT,
            tcb: None,
            host_data: [0; 32],
            signer: Signer::Vcek,
            launch: None,
            platform_info: None,
            issued_at: sim_core::time::ISSUE_EPOCH,
            mask_chip_id: false,
            reported_tcb: None,
        }
    }

    /// The platform configuration this spec runs on.
    pub fn platform_config(&self) -> PlatformConfig {
        let mut c = PlatformConfig::new(self.product, self.seed);
        if let Some(v) = self.report_version {
            c.report_version = v;
        }
        if let Some(t) = self.tcb {
            c.tcb = t;
        }
        if let Some(pi) = self.platform_info {
            c.platform_info = crate::layout::PlatformInfo(pi);
        }
        c.mask_chip_id = self.mask_chip_id;
        c.reported_tcb = self.reported_tcb;
        if self.signer == Signer::Vlek {
            c.vlek = Some(VlekConfig {
                csp_id: "cvmsim-csp".into(),
            });
        }
        c
    }
}

/// Why issuing failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The platform configuration is refused.
    #[error("platform: {0}")]
    Config(#[from] crate::sp::platform::ConfigError),
    /// A firmware command failed.
    #[error("firmware: {0}")]
    Firmware(#[from] crate::sp::FwStatus),
    /// The guest's request failed.
    #[error("guest request: {0}")]
    Driver(#[from] crate::sp::guest_request::DriverError),
    /// The launch plan could not be built.
    #[error("measurement: {0}")]
    Measure(#[from] measure::MeasureError),
    /// A certificate could not be built.
    #[error("certificate: {0}")]
    X509(#[from] sim_core::x509::X509Error),
}

/// An issued evidence bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The report.
    pub report: Vec<u8>,
    /// The VCEK or VLEK certificate, DER.
    pub vek: Vec<u8>,
    /// The ASK or ASVK, DER.
    pub ask: Vec<u8>,
    /// The ARK, DER.
    pub ark: Vec<u8>,
    /// VCEK or VLEK.
    pub signer: Signer,
    /// The extended-report certificate table.
    pub cert_table: Vec<u8>,
    /// The product.
    pub product: Product,
}

/// The default guest image: one NORMAL page of seeded bytes just below 4 GiB, then one QEMU vCPU.
pub fn default_launch_plan(seed: u64) -> Vec<measure::Update> {
    let mut page = Box::new([0u8; PAGE_SIZE]);
    sim_core::rng::seeded("snp-default-guest-image", seed).fill_bytes(&mut page[..]);
    vec![
        measure::Update {
            gpa: 0xFFFF_F000,
            page_type: PageType::Normal,
            page: Some(page),
        },
        measure::Update {
            gpa: crate::sp::launch::VMSA_GPA,
            page_type: PageType::Vmsa,
            page: Some(measure::initial_vmsa(
                0xffff_fff0,
                1,
                measure::cpu_sig(23, 1, 2),
                VmmType::Qemu,
            )),
        },
    ]
}

/// Launches a guest on a simulated chip and asks it for a report, as a real guest would.
pub fn issue(spec: &ReportSpec) -> Result<Bundle, IssueError> {
    let platform = Platform::new(spec.platform_config())?;
    let mut guest = platform.launch_start(1, spec.policy)?;
    let plan = match &spec.launch {
        Some(input) => {
            if let Some(h) = input.ovmf_hash {
                guest.ld = h;
            }
            measure::launch_plan(input)?
        }
        None => default_launch_plan(spec.seed),
    };
    for u in &plan {
        platform.launch_update(&mut guest, u.gpa, u.page_type, u.bytes(), [0; 3])?;
    }
    platform.launch_finish(&mut guest, None, false, spec.host_data)?;
    let vmpck = u8::try_from(spec.vmpl.min(3)).unwrap_or(0);
    let mut driver = GuestDriver::new(&guest, vmpck);
    let key_sel = match spec.signer {
        Signer::Vcek => 1,
        Signer::Vlek => 2,
    };
    let report = driver.get_report(&platform, &mut guest, spec.report_data, spec.vmpl, key_sel)?;
    let tcb = platform.reported_tcb();
    let ca = crate::pki::vendor(spec.product);
    let (vek, ask, e, sk) = match spec.signer {
        Signer::Vcek => (
            platform.vcek_cert(&tcb, spec.issued_at)?,
            ca.ask.clone(),
            Endorsement::Vcek,
            SigningKey::Vcek,
        ),
        Signer::Vlek => (
            platform
                .vlek_cert(&tcb, spec.issued_at)
                .unwrap_or_else(|| Err(sim_core::x509::X509Error::BadKey("no VLEK".into())))?,
            ca.asvk.clone(),
            Endorsement::Vlek,
            SigningKey::Vlek,
        ),
    };
    let _ = e;
    let cert_table = platform.cert_table(sk, spec.issued_at)?;
    Ok(Bundle {
        report,
        vek,
        ask,
        ark: ca.ark.clone(),
        signer: spec.signer,
        cert_table,
        product: spec.product,
    })
}

/// Re-signs bytes 0x000..0x2A0 of `report` with the key `spec`'s chip uses for its signer at its
/// reported TCB: vector generators change a field and keep the signature valid, so the field is the
/// only defect.
pub fn resign(spec: &ReportSpec, report: &mut [u8]) -> Result<(), IssueError> {
    let platform = Platform::new(spec.platform_config())?;
    let tcb = platform.reported_tcb();
    let key = match spec.signer {
        Signer::Vcek => platform.kds_vcek(&tcb),
        Signer::Vlek => platform
            .vlek(&tcb)
            .ok_or(crate::sp::FwStatus::INVALID_KEY("no VLEK loaded"))?,
    };
    sign_with(&key, report);
    Ok(())
}

/// Signs bytes 0x000..0x2A0 of `report` with `key` into its SIGNATURE field (bytes shorter than a
/// report are left alone).
pub fn sign_with(key: &p384::SecretKey, report: &mut [u8]) {
    use crate::layout::report::SIGNED_LEN;
    use zerocopy::IntoBytes;
    if report.len() < 0x4A0 {
        return;
    }
    let sig = crate::keys::sign_amd(key, &report[..SIGNED_LEN]);
    report[SIGNED_LEN..SIGNED_LEN + 0x200].copy_from_slice(sig.as_bytes());
}

impl Bundle {
    /// The files of the bundle, named as `cli.md` says.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        use sim_core::x509::to_pem;
        let (vek_name, ask_name) = match self.signer {
            Signer::Vcek => ("vcek.der", "ask.pem"),
            Signer::Vlek => ("vlek.der", "asvk.pem"),
        };
        let json = AttestationReport::parse(&self.report)
            .map(|r| {
                serde_json::to_string_pretty(&r.to_json(Some(self.product))).unwrap_or_default()
            })
            .unwrap_or_default();
        vec![
            ("report.bin".into(), self.report.clone()),
            (vek_name.into(), self.vek.clone()),
            (
                ask_name.into(),
                to_pem("CERTIFICATE", &self.ask).into_bytes(),
            ),
            (
                "ark.pem".into(),
                to_pem("CERTIFICATE", &self.ark).into_bytes(),
            ),
            (
                "cert_chain.pem".into(),
                format!(
                    "{}{}",
                    to_pem("CERTIFICATE", &self.ask),
                    to_pem("CERTIFICATE", &self.ark)
                )
                .into_bytes(),
            ),
            ("certs.bin".into(), self.cert_table.clone()),
            ("report.json".into(), (json + "\n").into_bytes()),
        ]
    }
}
