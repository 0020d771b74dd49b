//! `cvmsim snp ...` (contract: `cli.md`): report, measure, verify, show, and the memory-model commands.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sim_core::hexarg;
use sim_snp::evidence::{self, ReportSpec, Signer};
use sim_snp::layout::report::REPORT_SIZE;
use sim_snp::layout::{GuestPolicy, TcbVersion};
use sim_snp::measure::{self, MeasureInput, Ovmf, VmmType};
use sim_snp::report::{AttestationReport, ReportVersion};
use sim_snp::verify::{self, Evidence, Options, Policy};
use sim_snp::Product;

use super::{finish_verdict, now_arg, print_json, read_file, CmdResult, Failure};

/// `cvmsim snp` commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Launch a simulated guest and write its signed report with the KDS-shaped certificates.
    Report(ReportArgs),
    /// Print the expected launch digest of an OVMF guest (96 hex digits), as sev-snp-measure does.
    Measure(MeasureArgs),
    /// Verify a report against its VCEK/VLEK and the AMD chain.
    Verify(VerifyArgs),
    /// Print every field of a report.
    Show(ShowArgs),
    /// Memory-model commands (attack, rules, fuzz).
    #[command(flatten)]
    Mem(super::snp_mem::MemCmd),
}

/// Launch inputs shared by `report` and `measure`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// OVMF image (ends at 4 GiB).
    #[arg(long)]
    pub ovmf: Option<PathBuf>,
    /// Number of vCPUs.
    #[arg(long, default_value_t = 1)]
    pub vcpus: u32,
    /// QEMU vCPU model (EPYC-v4, EPYC-Milan, EPYC-Genoa, EPYC-Turin, ...).
    #[arg(long, conflicts_with = "vcpu_sig")]
    pub vcpu_type: Option<String>,
    /// CPUID(1).EAX signature of the vCPUs, hex.
    #[arg(long)]
    pub vcpu_sig: Option<String>,
    /// Kernel for direct boot (its hash is measured).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Initrd (with --kernel).
    #[arg(long, requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line (with --kernel).
    #[arg(long, requires = "kernel")]
    pub append: Option<String>,
    /// SEV_FEATURES of the VMSAs, hex (default 1: SNPActive; Linux ≥ 6.6 with debug-swap uses 21).
    #[arg(long, default_value = "1")]
    pub guest_features: String,
    /// VMM: QEMU, ec2 or gce.
    #[arg(long, default_value = "QEMU")]
    pub vmm_type: String,
    /// Precomputed digest of the OVMF pages (hex), used instead of hashing them.
    #[arg(long)]
    pub snp_ovmf_hash: Option<String>,
}

impl LaunchArgs {
    fn input(&self) -> Result<Option<MeasureInput>, Failure> {
        let Some(path) = &self.ovmf else {
            return Ok(None);
        };
        let ovmf = Ovmf::parse(read_file(path)?)
            .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        let vmm = VmmType::parse(&self.vmm_type).ok_or_else(|| {
            Failure::Input(format!(
                "--vmm-type {}: expected QEMU, ec2 or gce",
                self.vmm_type
            ))
        })?;
        let vcpu_sig = match (&self.vcpu_type, &self.vcpu_sig) {
            (Some(t), _) => measure::vcpu_type_sig(t)
                .ok_or_else(|| Failure::Input(format!("--vcpu-type {t}: unknown vCPU model")))?,
            (None, Some(s)) => u32::try_from(hexarg::u64_value("--vcpu-sig", s)?)
                .map_err(|_| Failure::Input("--vcpu-sig: above 32 bits".into()))?,
            (None, None) if vmm == VmmType::Qemu => {
                return Err(Failure::Input(
                    "QEMU needs --vcpu-type or --vcpu-sig".into(),
                ))
            }
            (None, None) => 0,
        };
        let ovmf_hash = match &self.snp_ovmf_hash {
            Some(h) => Some(hexarg::fixed::<48>("--snp-ovmf-hash", h)?),
            None => None,
        };
        Ok(Some(MeasureInput {
            ovmf,
            ovmf_hash,
            vcpus: self.vcpus,
            vcpu_sig,
            kernel: self.kernel.as_deref().map(read_file).transpose()?,
            initrd: self.initrd.as_deref().map(read_file).transpose()?,
            append: self.append.clone(),
            guest_features: hexarg::u64_value("--guest-features", &self.guest_features)?,
            vmm,
        }))
    }
}

/// `snp report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Chip seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// milan, genoa or turin.
    #[arg(long, default_value = "genoa")]
    pub product: String,
    /// Report version: 2, 3 or 5.
    #[arg(long)]
    pub report_version: Option<u32>,
    /// REPORT_DATA, hex (zero-padded to 64 bytes).
    #[arg(long)]
    pub report_data: Option<String>,
    /// VMPL of the requesting guest (0-3).
    #[arg(long, default_value_t = 0)]
    pub vmpl: u32,
    /// Guest policy, hex.
    #[arg(long, default_value = "30000")]
    pub policy: String,
    /// Platform TCB: bl=N,tee=N,snp=N,ucode=N[,fmc=N].
    #[arg(long)]
    pub tcb: Option<String>,
    /// HOST_DATA, hex (zero-padded to 32 bytes).
    #[arg(long)]
    pub host_data: Option<String>,
    /// vcek or vlek.
    #[arg(long, default_value = "vcek")]
    pub signer: String,
    /// PLATFORM_INFO, hex (default: SMT_EN | ECC_EN | ALIAS_CHECK_COMPLETE).
    #[arg(long)]
    pub platform_info: Option<String>,
    /// Certificate issue time, RFC 3339 (default 2025-01-01T00:00:00Z).
    #[arg(long)]
    pub issued_at: Option<String>,
    /// Print the decoded report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The guest image.
    #[command(flatten)]
    pub launch: LaunchArgs,
}

/// `snp measure`.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// The guest image.
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Print only the digest of the OVMF pages (sev-snp-measure --mode snp:ovmf-hash).
    #[arg(long)]
    pub ovmf_hash_only: bool,
}

/// `snp verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The report.
    #[arg(long)]
    pub report: PathBuf,
    /// The VCEK or VLEK certificate (DER or PEM).
    #[arg(long, alias = "vlek")]
    pub vcek: Option<PathBuf>,
    /// PEM bundle: ASK then ARK, or VCEK then ASK then ARK.
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// The ASK or ASVK (DER or PEM).
    #[arg(long, alias = "asvk")]
    pub ask: Option<PathBuf>,
    /// The ARK (DER or PEM): the trust anchor.
    #[arg(long)]
    pub ark: Option<PathBuf>,
    /// The ARK's CRL (DER or PEM).
    #[arg(long)]
    pub crl: Option<PathBuf>,
    /// milan, genoa or turin (default: detected).
    #[arg(long)]
    pub product: Option<String>,
    /// Verification time, RFC 3339 (default: now).
    #[arg(long)]
    pub now: Option<String>,
    /// Expected MEASUREMENT, hex.
    #[arg(long)]
    pub measurement: Option<String>,
    /// Expected REPORT_DATA, hex.
    #[arg(long)]
    pub report_data: Option<String>,
    /// Expected HOST_DATA, hex.
    #[arg(long)]
    pub host_data: Option<String>,
    /// Minimum REPORTED_TCB: bl=N,tee=N,snp=N,ucode=N[,fmc=N].
    #[arg(long)]
    pub min_tcb: Option<String>,
    /// Refuse a guest policy that allows debugging.
    #[arg(long)]
    pub deny_debug: bool,
    /// Expected VMPL.
    #[arg(long)]
    pub vmpl: Option<u32>,
    /// Expected ID_KEY_DIGEST, hex.
    #[arg(long)]
    pub id_key_digest: Option<String>,
    /// Expected AUTHOR_KEY_DIGEST, hex.
    #[arg(long)]
    pub author_key_digest: Option<String>,
    /// PLATFORM_INFO bits that must be set, hex (20 = ALIAS_CHECK_COMPLETE).
    #[arg(long)]
    pub require_platform_info: Option<String>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `snp show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The report.
    pub file: PathBuf,
    /// milan, genoa or turin (default: detected).
    #[arg(long)]
    pub product: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `snp` command.
pub fn run(cmd: Cmd) -> CmdResult {
    match cmd {
        Cmd::Report(a) => report(a),
        Cmd::Measure(a) => measure_cmd(a),
        Cmd::Verify(a) => verify_cmd(a),
        Cmd::Show(a) => show(a),
        Cmd::Mem(c) => super::snp_mem::run(c),
    }
}

fn product_arg(s: &str) -> Result<Product, Failure> {
    Product::parse(s)
        .ok_or_else(|| Failure::Input(format!("--product {s}: expected milan, genoa or turin")))
}

fn report(a: ReportArgs) -> CmdResult {
    let product = product_arg(&a.product)?;
    let mut spec = ReportSpec::new(product, a.seed);
    spec.report_version = match a.report_version {
        None => None,
        Some(2) => Some(ReportVersion::V2),
        Some(3) => Some(ReportVersion::V3),
        Some(5) => Some(ReportVersion::V5),
        Some(v) => {
            return Err(Failure::Input(format!(
                "--report-version {v}: expected 2, 3 or 5"
            )))
        }
    };
    if let Some(d) = &a.report_data {
        spec.report_data = hexarg::fixed::<64>("--report-data", d)?;
    }
    if a.vmpl > 3 {
        return Err(Failure::Input(format!("--vmpl {}: expected 0-3", a.vmpl)));
    }
    spec.vmpl = a.vmpl;
    spec.policy = GuestPolicy(hexarg::u64_value("--policy", &a.policy)?);
    if let Some(t) = &a.tcb {
        let mut tcb = TcbVersion::parse_arg(t).map_err(Failure::Input)?;
        if product == Product::Turin && tcb.fmc.is_none() {
            tcb.fmc = Some(0);
        }
        spec.tcb = Some(tcb);
    }
    if let Some(h) = &a.host_data {
        spec.host_data = hexarg::fixed::<32>("--host-data", h)?;
    }
    spec.signer = match a.signer.as_str() {
        "vcek" => Signer::Vcek,
        "vlek" => Signer::Vlek,
        s => {
            return Err(Failure::Input(format!(
                "--signer {s}: expected vcek or vlek"
            )))
        }
    };
    if let Some(pi) = &a.platform_info {
        spec.platform_info = Some(hexarg::u64_value("--platform-info", pi)?);
    }
    if let Some(t) = &a.issued_at {
        spec.issued_at = sim_core::time::parse_rfc3339(t).map_err(Failure::Input)?;
    }
    spec.launch = a.launch.input()?;
    let bundle = evidence::issue(&spec).map_err(|e| Failure::Input(e.to_string()))?;
    let files = bundle.files();
    sim_core::files::write_set(&a.out, &files)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.out.display())))?;
    if a.json {
        let r = AttestationReport::parse(&bundle.report)?;
        print_json(&r.to_json(Some(product)))?;
    } else {
        for (name, _) in &files {
            println!("{}", a.out.join(name).display());
        }
    }
    Ok(())
}

fn measure_cmd(a: MeasureArgs) -> CmdResult {
    let input = a
        .launch
        .input()?
        .ok_or_else(|| Failure::Input("--ovmf is required".into()))?;
    let ld = if a.ovmf_hash_only {
        measure::ovmf_hash(&input.ovmf)
    } else {
        measure::launch_digest(&input)?
    };
    println!("{}", hex::encode(ld));
    Ok(())
}

/// Reads a certificate file given as DER or PEM (first certificate of a PEM bundle).
pub fn read_cert(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_file(path)?;
    sim_core::x509::cert_der_from_bytes(&bytes)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

/// Reads a CRL file given as DER or PEM.
pub fn read_crl(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_file(path)?;
    sim_core::x509::der_from_pem_or_der(&bytes, "X509 CRL")
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

fn read_report(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_file(path)?;
    if bytes.len() != REPORT_SIZE {
        let e = AttestationReport::parse(&bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(Failure::Input(format!("{}: {e}", path.display())));
    }
    Ok(bytes)
}

fn verify_cmd(a: VerifyArgs) -> CmdResult {
    let report = read_report(&a.report)?;
    let (mut vek, mut ask, mut ark) = (None, None, None);
    if let Some(c) = &a.chain {
        let text = String::from_utf8(read_file(c)?)
            .map_err(|_| Failure::Input(format!("{}: not PEM text", c.display())))?;
        let (v, s, r) = verify::split_chain_pem(&text)
            .map_err(|e| Failure::Input(format!("{}: {e}", c.display())))?;
        vek = v;
        ask = Some(s);
        ark = Some(r);
    }
    if let Some(p) = &a.vcek {
        vek = Some(read_cert(p)?);
    }
    if let Some(p) = &a.ask {
        ask = Some(read_cert(p)?);
    }
    if let Some(p) = &a.ark {
        ark = Some(read_cert(p)?);
    }
    if vek.is_none() {
        return Err(Failure::Input(
            "no VCEK/VLEK: give --vcek or a --chain that starts with it".into(),
        ));
    }
    let crl = a.crl.as_deref().map(read_crl).transpose()?;
    let product = a.product.as_deref().map(product_arg).transpose()?;
    let mut policy = Policy {
        deny_debug: a.deny_debug,
        vmpl: a.vmpl,
        ..Policy::default()
    };
    if let Some(m) = &a.measurement {
        policy.measurement = Some(hexarg::fixed::<48>("--measurement", m)?);
    }
    if let Some(d) = &a.report_data {
        policy.report_data = Some(hexarg::fixed::<64>("--report-data", d)?);
    }
    if let Some(d) = &a.host_data {
        policy.host_data = Some(hexarg::fixed::<32>("--host-data", d)?);
    }
    if let Some(t) = &a.min_tcb {
        policy.min_tcb = Some(TcbVersion::parse_arg(t).map_err(Failure::Input)?);
    }
    if let Some(d) = &a.id_key_digest {
        policy.id_key_digest = Some(hexarg::fixed::<48>("--id-key-digest", d)?);
    }
    if let Some(d) = &a.author_key_digest {
        policy.author_key_digest = Some(hexarg::fixed::<48>("--author-key-digest", d)?);
    }
    if let Some(p) = &a.require_platform_info {
        policy.platform_info_required = hexarg::u64_value("--require-platform-info", p)?;
    }
    let ev = Evidence {
        report: &report,
        vek: vek.as_deref(),
        ask: ask.as_deref(),
        ark: ark.as_deref(),
        crl: crl.as_deref(),
        product,
    };
    let verdict = verify::verify(
        &ev,
        &policy,
        Options {
            now: now_arg(a.now.as_deref())?,
        },
    );
    finish_verdict(&verdict, a.json)
}

fn show(a: ShowArgs) -> CmdResult {
    let bytes = read_file(&a.file)?;
    let r = AttestationReport::parse(&bytes)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.file.display())))?;
    let product = a.product.as_deref().map(product_arg).transpose()?;
    let json = r.to_json(product);
    if a.json {
        print_json(&json)?;
    } else {
        print_human(&json, "");
    }
    Ok(())
}

fn print_human(v: &serde_json::Value, prefix: &str) {
    if let serde_json::Value::Object(map) = v {
        for (k, val) in map {
            match val {
                serde_json::Value::Object(_) => print_human(val, &format!("{prefix}{k}.")),
                serde_json::Value::String(s) => println!("{prefix}{k:<24} {s}", k = k),
                other => println!("{prefix}{k:<24} {other}"),
            }
        }
    }
}
