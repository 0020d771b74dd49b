//! `cvmsim verify DIR`: one evidence folder of any platform, the platform told from its files.
//!
//! | platform | told by | files read |
//! |---|---|---|
//! | SNP | `report.bin` without `certchain.pem` | `vcek.der`/`vcek.pem` or `vlek.der`/`vlek.pem`; the chain from `cert_chain.pem`, or `ask.pem`/`asvk.pem` + `ark.pem`, or `certs.bin`; `crl.der` |
//! | TDX | `quote.bin` | `collateral.json` (dcap-qvl `QuoteCollateralV3`; without it: signature, QE binding and PCK chain only); `root_ca.der`/`root_ca.pem` (else Intel's bundled SGX Root CA) |
//! | GPU | `certchain.pem` with `report.bin` or `report.hex` | `root_ca.pem` (else NVIDIA's bundled root); `rims/<RIM-ID>.xml` with `rim_root_ca.pem` (else NVIDIA's RIM root); the nonce from `evidence.json` |
//!
//! What a folder lacks is skipped, not failed: an SNP report with only `vcek.der` is checked against
//! AMD's bundled real roots (chosen by the VCEK's productName). A `manifest.json` may name the files
//! (`{"platform": "snp", "files": {"report": "...", "vcek": "...", "chain": "..."}, "now": "RFC3339"}`,
//! paths relative to the folder), which is how captures are replayed without renaming them. A
//! `policy.json` adds appraisal checks:
//!
//! | key | SNP check |
//! |---|---|
//! | `deny_debug` (bool) | `SNP-POLICY-DEBUG` |
//! | `min_tcb` (`bl=N,tee=N,snp=N,ucode=N[,fmc=N]`) | `SNP-POLICY-MIN-TCB` |
//! | `measurement`, `report_data`, `host_data` (hex) | `SNP-POLICY-MEASUREMENT`, `-REPORT-DATA`, `-HOST-DATA` |
//! | `vmpl` (number) | `SNP-POLICY-VMPL` |
//! | `require_platform_info` (hex) | `SNP-POLICY-PLATFORM-INFO` |
//! | `deny_debug`, `require_sept_ve_disable` (bool) | TDX: `TDX-POLICY-DEBUG`, `TDX-POLICY-SEPT-VE-DISABLE` |
//! | `mrtd`, `report_data`, `rtmr0`..`rtmr3` (hex) | TDX: `TDX-POLICY-MRTD`, `-REPORT-DATA`, `-RTMRn` |
//! | `allowed_status` (list of Intel status names) | TDX: `TDX-POLICY-TCB-STATUS` |
//! | `nonce` (hex) | GPU: the nonce the verifier asked with (overrides `evidence.json`) |
//! | `allow_trailing_bytes` (bool) | GPU: accept bytes after the signature (trustee's behaviour) |

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sim_core::{Platform, Verdict};

/// Why a folder could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// No file tells the platform.
    #[error("{0}: no evidence found (expected report.bin, quote.bin or report.hex/evidence.json)")]
    Unknown(String),
    /// A file could not be read or decoded.
    #[error("{0}")]
    Input(String),
}

/// The optional `manifest.json` naming the files of a capture.
#[derive(Debug, Default, Deserialize)]
pub struct CaptureManifest {
    /// Platform.
    pub platform: Option<Platform>,
    /// Role → path relative to the folder.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Verification time for old certificates and collateral.
    pub now: Option<String>,
    /// Product (SNP).
    pub product: Option<String>,
}

/// The appraisal policy of `policy.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Refuse debug.
    pub deny_debug: Option<bool>,
    /// Minimum TCB.
    pub min_tcb: Option<String>,
    /// Expected measurement, hex.
    pub measurement: Option<String>,
    /// Expected report data, hex.
    pub report_data: Option<String>,
    /// Expected host data, hex.
    pub host_data: Option<String>,
    /// Expected VMPL.
    pub vmpl: Option<u32>,
    /// Required PLATFORM_INFO bits, hex.
    pub require_platform_info: Option<String>,
    /// GPU: the expected nonce, hex.
    pub nonce: Option<String>,
    /// TDX: require ATTRIBUTES.SEPT_VE_DISABLE.
    pub require_sept_ve_disable: Option<bool>,
    /// TDX: expected MRTD, hex.
    pub mrtd: Option<String>,
    /// TDX: expected RTMR0, hex.
    pub rtmr0: Option<String>,
    /// TDX: expected RTMR1, hex.
    pub rtmr1: Option<String>,
    /// TDX: expected RTMR2, hex.
    pub rtmr2: Option<String>,
    /// TDX: expected RTMR3, hex.
    pub rtmr3: Option<String>,
    /// TDX: accepted TCB statuses.
    pub allowed_status: Option<Vec<String>>,
    /// GPU: accept bytes after the signature.
    pub allow_trailing_bytes: Option<bool>,
}

struct Folder {
    dir: PathBuf,
    manifest: CaptureManifest,
}

impl Folder {
    fn open(dir: &Path) -> Result<Folder, DirError> {
        let mpath = dir.join("manifest.json");
        let manifest = match std::fs::read(&mpath) {
            Ok(b) => serde_json::from_slice::<CaptureManifest>(&b).unwrap_or_default(),
            Err(_) => CaptureManifest::default(),
        };
        Ok(Folder {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The path of a role: the manifest's name, else the first of `names` that exists.
    fn find(&self, role: &str, names: &[&str]) -> Option<PathBuf> {
        if let Some(p) = self.manifest.files.get(role) {
            return Some(self.dir.join(p));
        }
        names.iter().map(|n| self.dir.join(n)).find(|p| p.is_file())
    }

    fn read(&self, p: &Path) -> Result<Vec<u8>, DirError> {
        std::fs::read(p).map_err(|e| DirError::Input(format!("{}: {e}", p.display())))
    }
}

/// Tells the platform of an evidence folder.
pub fn detect(dir: &Path) -> Result<Platform, DirError> {
    let f = Folder::open(dir)?;
    if let Some(p) = f.manifest.platform {
        return Ok(p);
    }
    if f.find("quote", &["quote.bin"]).is_some() {
        return Ok(Platform::Tdx);
    }
    if f.find("certchain", &["certchain.pem"]).is_some()
        && f.find("report", &["report.bin", "report.hex"]).is_some()
    {
        return Ok(Platform::Gpu);
    }
    if f.find("report", &["report.bin"]).is_none()
        && f.find("evidence", &["evidence.json"]).is_some()
    {
        return Ok(Platform::Gpu);
    }
    if f.find("report", &["report.bin"]).is_some() && f.find("quote", &["quote.bin"]).is_none() {
        return Ok(Platform::Snp);
    }
    Err(DirError::Unknown(dir.display().to_string()))
}

/// Verifies an evidence folder at `now` (or the manifest's `now`, or the clock).
pub fn verify_dir(dir: &Path, now: Option<i64>) -> Result<Verdict, DirError> {
    let platform = detect(dir)?;
    let f = Folder::open(dir)?;
    let now = match (now, &f.manifest.now) {
        (Some(n), _) => n,
        (None, Some(s)) => sim_core::time::parse_rfc3339(s).map_err(DirError::Input)?,
        (None, None) => sim_core::time::now(),
    };
    let policy: PolicyFile = match std::fs::read(dir.join("policy.json")) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| DirError::Input(format!("{}: {e}", dir.join("policy.json").display())))?,
        Err(_) => PolicyFile::default(),
    };
    match platform {
        Platform::Snp => verify_snp(&f, &policy, now),
        Platform::Gpu => verify_gpu(&f, &policy, now),
        Platform::Tdx => verify_tdx(&f, &policy, now),
    }
}

fn hex_field<const N: usize>(name: &str, v: &Option<String>) -> Result<Option<[u8; N]>, DirError> {
    v.as_deref()
        .map(|s| sim_core::hexarg::fixed::<N>(name, s).map_err(|e| DirError::Input(e.to_string())))
        .transpose()
}

fn verify_snp(f: &Folder, pf: &PolicyFile, now: i64) -> Result<Verdict, DirError> {
    use sim_snp::layout::cert_table;
    use sim_snp::pki::Endorsement;
    use sim_snp::Product;
    let report_path = f
        .find("report", &["report.bin"])
        .ok_or_else(|| DirError::Unknown(f.dir.display().to_string()))?;
    let report = f.read(&report_path)?;
    let cert = |role: &str, names: &[&str]| -> Result<Option<Vec<u8>>, DirError> {
        match f.find(role, names) {
            Some(p) => Ok(Some(
                sim_core::x509::cert_der_from_bytes(&f.read(&p)?)
                    .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?,
            )),
            None => Ok(None),
        }
    };
    let mut vek = cert("vcek", &["vcek.der", "vcek.pem", "vlek.der", "vlek.pem"])?;
    let mut ask = cert("ask", &["ask.pem", "asvk.pem", "ask.der", "asvk.der"])?;
    let mut ark = cert("ark", &["ark.pem", "ark.der"])?;
    if let Some(p) = f.find("chain", &["cert_chain.pem"]) {
        let text = String::from_utf8(f.read(&p)?)
            .map_err(|_| DirError::Input(format!("{}: not PEM", p.display())))?;
        let (v, s, r) = sim_snp::verify::split_chain_pem(&text)
            .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?;
        vek = vek.or(v);
        ask = Some(s);
        ark = Some(r);
    }
    if vek.is_none() || ask.is_none() || ark.is_none() {
        if let Some(p) = f.find("certs", &["certs.bin"]) {
            let entries = cert_table::decode(&f.read(&p)?)
                .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?;
            let get = |g: [u8; 16]| entries.iter().find(|e| e.guid == g).map(|e| e.data.clone());
            vek = vek
                .or_else(|| get(cert_table::GUID_VCEK))
                .or_else(|| get(cert_table::GUID_VLEK));
            ask = ask.or_else(|| get(cert_table::GUID_ASK));
            ark = ark.or_else(|| get(cert_table::GUID_ARK));
        }
    }
    let product = f.manifest.product.as_deref().and_then(Product::parse);
    let mut bundled_roots = false;
    if let (Some(v), None) = (&vek, &ark) {
        // Real evidence with only the VCEK/VLEK: AMD's bundled roots, chosen by the certificate.
        let c = der::Decode::from_der(v)
            .map_err(|e: der::Error| DirError::Input(format!("VEK: {e}")))?;
        let ext = sim_snp::pki::read_vek_extensions(&c);
        let p = product
            .or_else(|| {
                ext.product_name
                    .as_deref()
                    .and_then(|n| Product::parse(n.split('-').next().unwrap_or(n)))
            })
            .or_else(|| {
                sim_snp::report::AttestationReport::parse(&report)
                    .ok()
                    .and_then(|r| r.guess_product())
            });
        if let Some(p) = p {
            let e = if ext.csp_id.is_some() {
                Endorsement::Vlek
            } else {
                Endorsement::Vcek
            };
            let (_, s, r) =
                sim_snp::verify::split_chain_pem(sim_snp::roots::amd_cert_chain_pem(p, e))
                    .map_err(DirError::Input)?;
            ask = Some(s);
            ark = Some(r);
            bundled_roots = true;
        }
    }
    let crl = match f.find("crl", &["crl.der", "crl.pem"]) {
        Some(p) => Some(
            sim_core::x509::der_from_pem_or_der(&f.read(&p)?, "X509 CRL")
                .map_err(|e| DirError::Input(e.to_string()))?,
        ),
        None => None,
    };
    let mut policy = sim_snp::verify::Policy {
        deny_debug: pf.deny_debug.unwrap_or(false),
        vmpl: pf.vmpl,
        ..Default::default()
    };
    policy.measurement = hex_field::<48>("measurement", &pf.measurement)?;
    policy.report_data = hex_field::<64>("report_data", &pf.report_data)?;
    policy.host_data = hex_field::<32>("host_data", &pf.host_data)?;
    if let Some(t) = &pf.min_tcb {
        policy.min_tcb = Some(sim_snp::layout::TcbVersion::parse_arg(t).map_err(DirError::Input)?);
    }
    if let Some(p) = &pf.require_platform_info {
        policy.platform_info_required = sim_core::hexarg::u64_value("require_platform_info", p)
            .map_err(|e| DirError::Input(e.to_string()))?;
    }
    let ev = sim_snp::verify::Evidence {
        report: &report,
        vek: vek.as_deref(),
        ask: ask.as_deref(),
        ark: ark.as_deref(),
        crl: crl.as_deref(),
        product,
    };
    let mut v = sim_snp::verify::verify(&ev, &policy, sim_snp::verify::Options { now });
    if bundled_roots {
        v.claim("roots", "bundled AMD roots");
    }
    Ok(v)
}

/// NVIDIA's evidence JSON: `[{arch, nonce, evidence: base64(report), certificate: base64(PEM chain)}]`.
fn gpu_evidence_json(f: &Folder) -> Result<Option<serde_json::Value>, DirError> {
    match f.find("evidence", &["evidence.json"]) {
        Some(p) => {
            let j: serde_json::Value = serde_json::from_slice(&f.read(&p)?)
                .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?;
            Ok(Some(if j.is_array() {
                j.get(0).cloned().unwrap_or_default()
            } else {
                j
            }))
        }
        None => Ok(None),
    }
}

fn verify_gpu(f: &Folder, pf: &PolicyFile, now: i64) -> Result<Verdict, DirError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let ev_json = gpu_evidence_json(f)?;
    let from_json = |key: &str| -> Result<Option<Vec<u8>>, DirError> {
        match ev_json
            .as_ref()
            .and_then(|j| j.get(key))
            .and_then(|v| v.as_str())
        {
            Some(s) => b64
                .decode(s)
                .map(Some)
                .map_err(|e| DirError::Input(format!("evidence.json {key}: {e}"))),
            None => Ok(None),
        }
    };
    let report = match (
        f.find("report", &["report.bin"]),
        f.find("report_hex", &["report.hex"]),
    ) {
        (Some(p), _) => f.read(&p)?,
        (None, Some(p)) => sim_gpu::layout::report_file_bytes(&f.read(&p)?)
            .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?,
        (None, None) => {
            from_json("evidence")?.ok_or_else(|| DirError::Unknown(f.dir.display().to_string()))?
        }
    };
    let chain = match f.find("certchain", &["certchain.pem"]) {
        Some(p) => String::from_utf8(f.read(&p)?)
            .map_err(|_| DirError::Input(format!("{}: not PEM", p.display())))?,
        None => {
            let c = from_json("certificate")?
                .ok_or_else(|| DirError::Input(format!("{}: no certchain.pem", f.dir.display())))?;
            String::from_utf8(c)
                .map_err(|_| DirError::Input("evidence.json certificate: not PEM".into()))?
        }
    };
    let pem_der = |text: &str, what: &str| {
        sim_core::x509::cert_der_from_bytes(text.as_bytes())
            .map_err(|e| DirError::Input(format!("{what}: {e}")))
    };
    let (root, bundled) = match f.find("root", &["root_ca.pem"]) {
        Some(p) => (
            pem_der(
                &String::from_utf8_lossy(&f.read(&p)?),
                &p.display().to_string(),
            )?,
            false,
        ),
        None => (
            pem_der(
                sim_gpu::roots::NVIDIA_DEVICE_ROOT_PEM,
                "bundled NVIDIA root",
            )?,
            true,
        ),
    };
    let mut nonce = None;
    if let Some(n) = ev_json
        .as_ref()
        .and_then(|j| j.get("nonce"))
        .and_then(|n| n.as_str())
    {
        nonce = Some(
            sim_core::hexarg::fixed::<32>("evidence.json nonce", n)
                .map_err(|e| DirError::Input(e.to_string()))?,
        );
    }
    if let Some(n) = hex_field::<32>("nonce", &pf.nonce)? {
        nonce = Some(n);
    }
    // RIMs: rims/<RIM-ID>.xml (or .swidtag) named after the report's opaque data.
    let rims_dir = f.dir.join("rims");
    let mut rim_texts = None;
    if rims_dir.is_dir() {
        if let Ok(parsed) = sim_gpu::layout::Report::parse(&report) {
            let (driver_id, vbios_id) = sim_gpu::rim::rim_ids(&parsed);
            let read_rim = |id: &str| -> Option<String> {
                ["xml", "swidtag"].iter().find_map(|ext| {
                    std::fs::read_to_string(rims_dir.join(format!("{id}.{ext}"))).ok()
                })
            };
            let rim_root = match f.find("rim_root", &["rim_root_ca.pem"]) {
                Some(p) => pem_der(
                    &String::from_utf8_lossy(&f.read(&p)?),
                    &p.display().to_string(),
                )?,
                None => pem_der(
                    sim_gpu::roots::NVIDIA_RIM_ROOT_PEM,
                    "bundled NVIDIA RIM root",
                )?,
            };
            if let (Some(d), Some(v)) = (read_rim(&driver_id), read_rim(&vbios_id)) {
                rim_texts = Some((d, v, rim_root));
            }
        }
    }
    let inputs = rim_texts
        .as_ref()
        .map(|(d, v, r)| sim_gpu::verify::RimInputs {
            driver: d,
            vbios: v,
            root_der: r,
        });
    let opts = sim_gpu::verify::Options {
        nonce,
        now,
        allow_trailing_bytes: pf.allow_trailing_bytes.unwrap_or(false),
    };
    let mut v = sim_gpu::verify::verify(&report, &chain, &root, inputs, &opts);
    if bundled {
        v.claim("roots", "bundled NVIDIA roots");
    }
    if rim_texts.is_none() {
        v.claim("rims", "not given: measurements not appraised");
    }
    Ok(v)
}

fn verify_tdx(f: &Folder, pf: &PolicyFile, now: i64) -> Result<Verdict, DirError> {
    let qp = f
        .find("quote", &["quote.bin"])
        .ok_or_else(|| DirError::Unknown(f.dir.display().to_string()))?;
    let quote = f.read(&qp)?;
    let collateral: Option<sim_tdx::collateral::Collateral> =
        match f.find("collateral", &["collateral.json"]) {
            Some(p) => {
                let text = String::from_utf8(f.read(&p)?)
                    .map_err(|_| DirError::Input(format!("{}: not UTF-8", p.display())))?;
                Some(
                    sim_tdx::collateral::Collateral::from_json(&text)
                        .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?,
                )
            }
            None => None,
        };
    let (root, bundled) = match f.find("root", &["root_ca.der", "root_ca.pem"]) {
        Some(p) => (
            sim_core::x509::cert_der_from_bytes(&f.read(&p)?)
                .map_err(|e| DirError::Input(format!("{}: {e}", p.display())))?,
            false,
        ),
        None => (sim_tdx::INTEL_SGX_ROOT_CA_DER.to_vec(), true),
    };
    let mut policy = sim_tdx::verify::Policy {
        deny_debug: pf.deny_debug.unwrap_or(false),
        require_sept_ve_disable: pf.require_sept_ve_disable.unwrap_or(false),
        ..Default::default()
    };
    policy.mrtd = hex_field::<48>("mrtd", &pf.mrtd)?;
    policy.report_data = hex_field::<64>("report_data", &pf.report_data)?;
    for (i, r) in [&pf.rtmr0, &pf.rtmr1, &pf.rtmr2, &pf.rtmr3]
        .into_iter()
        .enumerate()
    {
        policy.rtmr[i] = hex_field::<48>("rtmr", r)?;
    }
    if let Some(list) = &pf.allowed_status {
        let parsed: Result<Vec<_>, DirError> = list
            .iter()
            .map(|s| {
                sim_tdx::collateral::TcbStatus::parse(s).ok_or_else(|| {
                    DirError::Input(format!("policy.json allowed_status: unknown status {s:?}"))
                })
            })
            .collect();
        policy.allowed_status = Some(parsed?);
    }
    let mut v =
        match sim_tdx::verify::verify_quote(&quote, collateral.as_ref(), &root, now, &policy) {
            Ok(v) => v,
            Err(e) => {
                // An unparseable quote is invalid evidence: one failed structure check naming field and offset.
                let mut v = Verdict::new(Platform::Tdx);
                v.fail("TDX-QUOTE-STRUCTURE", format!("{}: {e}", qp.display()));
                v
            }
        };
    if bundled {
        v.claim("roots", "bundled Intel SGX Root CA");
    }
    if collateral.is_none() {
        v.claim(
            "skipped",
            serde_json::json!([
                "TDX-CRL-ROOT",
                "TDX-CRL-PCK",
                "TDX-TCB-INFO-SIGNATURE",
                "TDX-QE-IDENTITY-SIGNATURE",
                "TDX-TCB-STATUS"
            ]),
        );
    }
    Ok(v)
}
