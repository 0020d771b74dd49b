//! `cvmsim tdx ...` (contract: `cli.md`): `quote`, `measure`, `verify`, `show`, and the memory-model
//! commands of [`super::tdx_mem`].

use std::path::PathBuf;

use clap::{Args, Subcommand};
use sim_core::hexarg;
use sim_tdx::collateral::{Collateral, TcbStatus};
use sim_tdx::evidence::{generate, Measurement, QuoteOptions, DEFAULT_VALIDITY};
use sim_tdx::measure::{tdvf_mrtd, PageAddOrder};
use sim_tdx::show::{parse_any, quote_json, render_text, tdreport_json, Shown};
use sim_tdx::verify::{verify_quote, Policy};

use super::{finish_verdict, now_arg, print_json, read_file, CmdResult, Failure};

/// `cvmsim tdx` commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Build a TD on a simulated platform and write its quote, collateral, root, TDREPORT and summary.
    Quote(Box<QuoteArgs>),
    /// Print the MRTD of a TDVF firmware image (96 hex digits).
    Measure(MeasureArgs),
    /// Verify a quote (signatures, QE binding, PCK chain, collateral, TCB status, policy) or a TDREPORT.
    Verify(Box<VerifyArgs>),
    /// Print every field of a quote or a TDREPORT.
    Show(ShowArgs),
    /// Memory-model commands (attack, rules, fuzz).
    #[command(flatten)]
    Mem(super::tdx_mem::MemCmd),
}

/// `cvmsim tdx quote`.
#[derive(Debug, Args)]
pub struct QuoteArgs {
    /// Output folder (created if missing; files written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the simulated platform (PCK, attestation and report keys, PPID, QE ID).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Quote version 4 or 5 (default: the TDQE's rule, v5 only when TEE_TCB_SVN2 differs).
    #[arg(long)]
    quote_version: Option<u16>,
    /// REPORTDATA (up to 64 bytes hex, zero-padded on the right).
    #[arg(long)]
    report_data: Option<String>,
    /// TCB status the collateral gives the platform: UpToDate, SWHardeningNeeded, ConfigurationNeeded,
    /// ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked,
    /// TDRelaunchAdvised, TDRelaunchAdvisedConfigurationNeeded (the last two need version 5).
    #[arg(long, default_value = "UpToDate")]
    tcb_status: String,
    /// TD ATTRIBUTES as a hex u64 (default 10000000: SEPT_VE_DISABLE).
    #[arg(long)]
    attributes: Option<String>,
    /// XFAM as a hex u64 (default 602e7).
    #[arg(long)]
    xfam: Option<String>,
    /// MRTD to report (48 bytes hex) instead of building the built-in TD image.
    #[arg(long, conflicts_with = "tdvf")]
    mrtd: Option<String>,
    /// TDVF firmware image: MRTD from its metadata.
    #[arg(long)]
    tdvf: Option<PathBuf>,
    /// RTMR extension INDEX:HEX48 (TDG.MR.RTMR.EXTEND), repeatable, applied in order.
    #[arg(long = "rtmr-extend")]
    rtmr_extend: Vec<String>,
    /// A CCEL event log (TCG2, SHA-384) whose events are replayed into the TD's RTMRs with
    /// TDG.MR.RTMR.EXTEND (before any --rtmr-extend).
    #[arg(long)]
    ccel: Option<PathBuf>,
    /// Issue time of certificates and collateral (RFC 3339; default 2025-01-01T00:00:00Z).
    #[arg(long)]
    issue_time: Option<String>,
    /// Validity of the TCB info, QE identity and CRLs, in days (default 3650; Intel's is 30).
    #[arg(long)]
    collateral_days: Option<i64>,
    /// Put the PCK certificate on the PCK CRL (negative vector).
    #[arg(long)]
    revoke_pck: bool,
}

/// `cvmsim tdx measure`.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// TDVF (OVMF with TDX metadata) image.
    #[arg(long)]
    tdvf: PathBuf,
    /// All PAGE.ADDs of a section before its MR.EXTENDs (older QEMU/KVM) instead of page by page.
    #[arg(long)]
    two_pass: bool,
}

/// `cvmsim tdx verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Quote file (v4/v5; trailing bytes allowed).
    #[arg(long, required_unless_present = "tdreport")]
    quote: Option<PathBuf>,
    /// Collateral JSON (dcap-qvl QuoteCollateralV3 shape); without it the collateral checks are skipped.
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// Trusted root certificate (DER or PEM); default Intel's SGX Root CA.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Verification time (RFC 3339; default now).
    #[arg(long)]
    now: Option<String>,
    /// A TDREPORT (1024 bytes) to check for internal consistency instead of a quote.
    #[arg(long, conflicts_with = "quote")]
    tdreport: Option<PathBuf>,
    /// Policy: fail a debug TD.
    #[arg(long)]
    deny_debug: bool,
    /// Policy: require ATTRIBUTES.SEPT_VE_DISABLE.
    #[arg(long)]
    require_sept_ve_disable: bool,
    /// Policy: expected MRTD.
    #[arg(long)]
    mrtd: Option<String>,
    /// Policy: expected RTMR0.
    #[arg(long)]
    rtmr0: Option<String>,
    /// Policy: expected RTMR1.
    #[arg(long)]
    rtmr1: Option<String>,
    /// Policy: expected RTMR2.
    #[arg(long)]
    rtmr2: Option<String>,
    /// Policy: expected RTMR3.
    #[arg(long)]
    rtmr3: Option<String>,
    /// Policy: expected REPORTDATA.
    #[arg(long)]
    report_data: Option<String>,
    /// Policy: accepted TCB statuses, comma-separated (e.g. UpToDate,SWHardeningNeeded).
    #[arg(long)]
    allowed_status: Option<String>,
    /// One JSON verdict on stdout.
    #[arg(long)]
    json: bool,
}

/// `cvmsim tdx show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Quote or TDREPORT file.
    file: PathBuf,
    /// JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs a `tdx` command.
pub fn run(cmd: Cmd) -> CmdResult {
    match cmd {
        Cmd::Quote(a) => quote(*a),
        Cmd::Measure(a) => measure(a),
        Cmd::Verify(a) => verify(*a),
        Cmd::Show(a) => show(a),
        Cmd::Mem(c) => super::tdx_mem::run(c),
    }
}

fn u64_hex(arg: &str, v: Option<&String>, default: u64) -> Result<u64, Failure> {
    match v {
        Some(s) => Ok(hexarg::u64_value(arg, s)?),
        None => Ok(default),
    }
}

fn quote(a: QuoteArgs) -> CmdResult {
    let status = TcbStatus::parse(&a.tcb_status).ok_or_else(|| {
        Failure::Input(format!(
            "--tcb-status {}: one of {}",
            a.tcb_status,
            TcbStatus::ALL.map(|s| s.as_str()).join(", ")
        ))
    })?;
    let measurement = match (&a.mrtd, &a.tdvf) {
        (Some(m), _) => Measurement::Mrtd(hexarg::fixed::<48>("--mrtd", m)?),
        (None, Some(p)) => Measurement::Tdvf(read_file(p)?),
        (None, None) => Measurement::Builtin,
    };
    let mut rtmr_extends = Vec::new();
    if let Some(p) = &a.ccel {
        let log = read_file(p)?;
        rtmr_extends.extend(
            sim_tdx::measure::ccel_rtmr_extends(&log)
                .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?,
        );
    }
    for e in &a.rtmr_extend {
        let (i, h) = e
            .split_once(':')
            .ok_or_else(|| Failure::Input(format!("--rtmr-extend {e}: INDEX:HEX")))?;
        let i: u64 = i
            .parse()
            .map_err(|_| Failure::Input(format!("--rtmr-extend {e}: INDEX is 0..3")))?;
        rtmr_extends.push((i, hexarg::fixed::<48>("--rtmr-extend", h)?));
    }
    let defaults = QuoteOptions::default();
    let o = QuoteOptions {
        seed: a.seed,
        version: a.quote_version,
        report_data: match &a.report_data {
            Some(s) => hexarg::fixed::<64>("--report-data", s)?,
            None => [0; 64],
        },
        status,
        attributes: u64_hex("--attributes", a.attributes.as_ref(), defaults.attributes)?,
        xfam: u64_hex("--xfam", a.xfam.as_ref(), defaults.xfam)?,
        measurement,
        rtmr_extends,
        issued: match &a.issue_time {
            Some(t) => sim_core::time::parse_rfc3339(t).map_err(Failure::Input)?,
            None => sim_core::time::ISSUE_EPOCH,
        },
        validity: a.collateral_days.map_or(DEFAULT_VALIDITY, |d| d * 86_400),
        revoke_pck: a.revoke_pck,
    };
    let bundle = generate(&o)?;
    let files = bundle.files();
    sim_core::files::write_set(&a.out, &files)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.out.display())))?;
    for (name, _) in &files {
        println!("{}", a.out.join(name).display());
    }
    Ok(())
}

fn measure(a: MeasureArgs) -> CmdResult {
    let fw = read_file(&a.tdvf)?;
    let order = if a.two_pass {
        PageAddOrder::TwoPass
    } else {
        PageAddOrder::SinglePass
    };
    let m =
        tdvf_mrtd(&fw, order).map_err(|e| Failure::Input(format!("{}: {e}", a.tdvf.display())))?;
    println!("{}", hex::encode(m));
    Ok(())
}

fn read_root(p: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let b = read_file(p)?;
    if b.starts_with(b"-----BEGIN") {
        let certs = sim_core::x509::pem_certs(&String::from_utf8_lossy(&b))
            .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?;
        certs
            .into_iter()
            .next()
            .ok_or_else(|| Failure::Input(format!("{}: no certificate", p.display())))
    } else {
        Ok(b)
    }
}

fn verify(a: VerifyArgs) -> CmdResult {
    if let Some(p) = &a.tdreport {
        let b = read_file(p)?;
        let r = sim_tdx::layout::TdReport::parse(&b)
            .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?;
        let c = sim_tdx::module::check_tdreport(&r);
        let mut v = sim_core::Verdict::new(sim_core::Platform::Tdx);
        v.check(
            "TDX-TDREPORT-TYPE",
            c.type_ok,
            "REPORTTYPE.TYPE = 0x81 at 0x0",
        );
        v.check(
            "TDX-TDREPORT-RESERVED",
            c.reserved_ok,
            "reserved bytes 0x4..0x10 and 0xC0..0xE0 are zero",
        );
        v.check(
            "TDX-TDREPORT-TEE-TCB-INFO-HASH",
            c.tee_tcb_info_hash_ok,
            "SHA-384(TEE_TCB_INFO[0..239]) = TEE_TCB_INFO_HASH at 0x20",
        );
        v.check(
            "TDX-TDREPORT-TEE-INFO-HASH",
            c.tee_info_hash_ok,
            "SHA-384(TDINFO) = TEE_INFO_HASH at 0x50",
        );
        v.pass(
            "TDX-TDREPORT-MAC",
            "not checkable: the hardware MAC key and algorithm are not public (only checked on the platform)",
        );
        v.claims = tdreport_json(&r);
        return finish_verdict(&v, a.json);
    }
    let qp = a
        .quote
        .as_ref()
        .ok_or_else(|| Failure::Input("--quote or --tdreport is required".into()))?;
    let q = read_file(qp)?;
    let collateral = match &a.collateral {
        Some(p) => Some(
            Collateral::from_json(&String::from_utf8_lossy(&read_file(p)?))
                .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?,
        ),
        None => None,
    };
    let root = match &a.root {
        Some(p) => read_root(p)?,
        None => sim_tdx::INTEL_SGX_ROOT_CA_DER.to_vec(),
    };
    let now = now_arg(a.now.as_deref())?;
    let h48 = |n: &str, v: &Option<String>| -> Result<Option<[u8; 48]>, Failure> {
        v.as_ref()
            .map(|s| hexarg::fixed::<48>(n, s))
            .transpose()
            .map_err(Failure::from)
    };
    let allowed_status = match &a.allowed_status {
        Some(list) => Some(
            list.split(',')
                .map(|s| {
                    TcbStatus::parse(s).ok_or_else(|| {
                        Failure::Input(format!("--allowed-status: unknown status {s}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let policy = Policy {
        deny_debug: a.deny_debug,
        require_sept_ve_disable: a.require_sept_ve_disable,
        mrtd: h48("--mrtd", &a.mrtd)?,
        rtmr: [
            h48("--rtmr0", &a.rtmr0)?,
            h48("--rtmr1", &a.rtmr1)?,
            h48("--rtmr2", &a.rtmr2)?,
            h48("--rtmr3", &a.rtmr3)?,
        ],
        report_data: a
            .report_data
            .as_ref()
            .map(|s| hexarg::fixed::<64>("--report-data", s))
            .transpose()?,
        allowed_status,
    };
    let v = verify_quote(&q, collateral.as_ref(), &root, now, &policy)
        .map_err(|e| Failure::Input(format!("{}: {e}", qp.display())))?;
    finish_verdict(&v, a.json)
}

fn show(a: ShowArgs) -> CmdResult {
    let b = read_file(&a.file)?;
    let v = match parse_any(&b).map_err(|e| Failure::Input(format!("{}: {e}", a.file.display())))? {
        Shown::Quote(q) => quote_json(&q),
        Shown::TdReport(r) => tdreport_json(&r),
    };
    if a.json {
        print_json(&v)
    } else {
        print!("{}", render_text(&v));
        Ok(())
    }
}
