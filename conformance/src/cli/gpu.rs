//! `cvmsim gpu ...` (contract: `cli.md`): evidence, verify, show, attack.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use sim_gpu::device::{CcMode, DeviceConfig, FirmwareSet};
use sim_gpu::evidence::Tamper;
use sim_gpu::layout::Report;

use super::{finish_attack, finish_verdict, now_arg, print_json, read_file, CmdResult, Failure};

/// CC mode of the simulated GPU.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CcModeArg {
    /// CC on.
    On,
    /// CC off (the GPU gives no attestation report).
    Off,
    /// Developer tools mode.
    Devtools,
}

/// Arguments of `cvmsim gpu evidence`.
#[derive(Debug, clap::Args)]
pub struct EvidenceArgs {
    /// Output folder (created if missing; files written atomically).
    #[arg(long)]
    out: PathBuf,
    /// The verifier's nonce (32 bytes, hex; shorter values are zero-padded on the right).
    #[arg(long)]
    nonce: String,
    /// Picks the simulated device.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Driver version.
    #[arg(long)]
    driver: Option<String>,
    /// VBIOS version, e.g. 96.00.9F.00.01.
    #[arg(long)]
    vbios: Option<String>,
    /// PROJECT (1010 = PCIe board, G520 = HGX).
    #[arg(long)]
    project: Option<String>,
    /// PROJECT_SKU.
    #[arg(long)]
    project_sku: Option<String>,
    /// CHIP_SKU.
    #[arg(long)]
    chip_sku: Option<String>,
    /// CC mode.
    #[arg(long, value_enum, default_value = "on")]
    cc_mode: CcModeArg,
    /// Protected PCIe (PROTECTED_PCIE_STATUS 0xAA, FEATURE_FLAG 2).
    #[arg(long)]
    ppcie: bool,
    /// NVDEC0 enabled (NVDEC0_STATUS 0xAA).
    #[arg(long)]
    nvdec0: bool,
    /// Emit deliberately broken evidence: measurement, vbios-measurement, signature, wrong-key,
    /// fwid, nonce, four-certs, rim-hash, rim-wrong-signer; or nvdec0-index35 (verifiers disagree:
    /// NVAT and cvmsim accept it, NVIDIA's Python verifier rejects it).
    #[arg(long)]
    tamper: Option<String>,
}

/// `cvmsim gpu` commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Issues H100 evidence: report.hex, report.bin, certchain.pem, root_ca.pem, rims/RIM-ID.xml,
    /// rim_root_ca.pem, evidence.json.
    Evidence(Box<EvidenceArgs>),
    /// Verifies a report with its chain (and RIMs if given).
    Verify {
        /// The report: binary, or its hex text (NVIDIA's sample files).
        #[arg(long)]
        report: PathBuf,
        /// PEM chain, leaf first (5 certificates).
        #[arg(long)]
        certchain: PathBuf,
        /// The device root (PEM or DER).
        #[arg(long)]
        root: PathBuf,
        /// Expected nonce (default: the nonce in the request).
        #[arg(long)]
        nonce: Option<String>,
        /// Folder of RIMs named RIM-ID.xml (or .swidtag).
        #[arg(long, requires = "rim_root")]
        rims: Option<PathBuf>,
        /// RIM signing root (PEM or DER).
        #[arg(long, requires = "rims")]
        rim_root: Option<PathBuf>,
        /// Verification time, RFC 3339 (default: now).
        #[arg(long)]
        now: Option<String>,
        /// Accept bytes after the signature, as trustee does (NVIDIA's verifiers reject them).
        #[arg(long)]
        allow_trailing_bytes: bool,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows every field of a report (binary or hex).
    Show {
        /// The report.
        file: PathBuf,
        /// Print JSON (NVIDIA's parsed shape plus decoded values).
        #[arg(long)]
        json: bool,
    },
    /// CPU-GPU channel attack scenarios: `list`, or a scenario name.
    Attack {
        /// `list` or a scenario name.
        name: String,
        /// Picks the session.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `gpu` command.
pub fn run(cmd: Cmd) -> CmdResult {
    match cmd {
        Cmd::Evidence(args) => {
            let EvidenceArgs {
                out,
                nonce,
                seed,
                driver,
                vbios,
                project,
                project_sku,
                chip_sku,
                cc_mode,
                ppcie,
                nvdec0,
                tamper,
            } = *args;
            let nonce = sim_core::hexarg::fixed::<32>("--nonce", &nonce)?;
            let mut fw = FirmwareSet::default();
            if let Some(v) = driver {
                fw.driver_version = v;
            }
            if let Some(v) = vbios {
                fw.vbios_version = v;
            }
            if let Some(v) = project {
                fw.project = v;
            }
            if let Some(v) = project_sku {
                fw.project_sku = v;
            }
            if let Some(v) = chip_sku {
                fw.chip_sku = v;
            }
            let tamper = match tamper.as_deref() {
                None => None,
                Some(t) => Some(Tamper::from_name(t).ok_or_else(|| {
                    let names: Vec<&str> = Tamper::ALL.iter().map(|(n, _)| *n).collect();
                    Failure::Input(format!(
                        "--tamper {t}: unknown; one of {}",
                        names.join(", ")
                    ))
                })?),
            };
            let cfg = DeviceConfig {
                seed,
                firmware: fw,
                cc_mode: match cc_mode {
                    CcModeArg::On => CcMode::On,
                    CcModeArg::Off => CcMode::Off,
                    CcModeArg::Devtools => CcMode::Devtools,
                },
                ppcie,
                nvdec0_enabled: nvdec0,
            };
            let ev = sim_gpu::evidence::issue(cfg, nonce, tamper)?;
            sim_core::files::write_set(&out, &ev.files())
                .map_err(|e| Failure::Input(format!("{}: {e}", out.display())))?;
            for (id, _) in &ev.rims {
                println!("rims/{id}.xml");
            }
            println!("wrote {} files to {}", ev.files().len(), out.display());
            Ok(())
        }
        Cmd::Verify {
            report,
            certchain,
            root,
            nonce,
            rims,
            rim_root,
            now,
            allow_trailing_bytes,
            json,
        } => {
            let bytes = read_report(&report)?;
            let parsed = Report::parse(&bytes)
                .map_err(|e| Failure::Input(format!("{}: {e}", report.display())))?;
            let chain = String::from_utf8_lossy(&read_file(&certchain)?).into_owned();
            match sim_core::x509::pem_certs(&chain) {
                Ok(c) if !c.is_empty() => {}
                Ok(_) => {
                    return Err(Failure::Input(format!(
                        "{}: no PEM certificate",
                        certchain.display()
                    )))
                }
                Err(e) => return Err(Failure::Input(format!("{}: {e}", certchain.display()))),
            }
            let root_der = read_cert(&root)?;
            let nonce = nonce
                .map(|n| sim_core::hexarg::fixed::<32>("--nonce", &n))
                .transpose()?;
            let opts = sim_gpu::verify::Options {
                nonce,
                now: now_arg(now.as_deref())?,
                allow_trailing_bytes,
            };
            let rim_texts = match (&rims, &rim_root) {
                (Some(dir), Some(rr)) => {
                    let (driver_id, vbios_id) = sim_gpu::rim::rim_ids(&parsed);
                    Some((
                        read_rim(dir, &driver_id)?,
                        read_rim(dir, &vbios_id)?,
                        read_cert(rr)?,
                    ))
                }
                _ => None,
            };
            let inputs = rim_texts
                .as_ref()
                .map(|(d, v, r)| sim_gpu::verify::RimInputs {
                    driver: d,
                    vbios: v,
                    root_der: r,
                });
            let verdict = sim_gpu::verify::verify(&bytes, &chain, &root_der, inputs, &opts);
            finish_verdict(&verdict, json)
        }
        Cmd::Show { file, json } => {
            let bytes = read_report(&file)?;
            let r = Report::parse(&bytes)
                .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            if json {
                print_json(&sim_gpu::show::show_json(&r))
            } else {
                print!("{}", sim_gpu::show::show_human(&r));
                Ok(())
            }
        }
        Cmd::Attack { name, seed, json } => {
            if name == "list" {
                if json {
                    let v: Vec<_> = sim_gpu::attack::SCENARIOS
                        .iter()
                        .map(|(n, d)| serde_json::json!({"scenario": n, "description": d}))
                        .collect();
                    return print_json(&v);
                }
                for (n, d) in sim_gpu::attack::SCENARIOS {
                    println!("{n:<24} {d}");
                }
                return Ok(());
            }
            let r = sim_gpu::attack::run(&name, seed).ok_or_else(|| {
                Failure::Input(format!(
                    "no scenario {name:?}; `cvmsim gpu attack list` lists them"
                ))
            })?;
            finish_attack(&r, json)
        }
    }
}

/// Reads a report file: binary, or hex text (whitespace ignored).
fn read_report(path: &Path) -> Result<Vec<u8>, Failure> {
    sim_gpu::layout::report_file_bytes(&read_file(path)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

/// Reads one certificate, PEM or DER.
fn read_cert(path: &Path) -> Result<Vec<u8>, Failure> {
    sim_core::x509::cert_der_from_bytes(&read_file(path)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

fn read_rim(dir: &Path, id: &str) -> Result<String, Failure> {
    for ext in ["xml", "swidtag"] {
        let p = dir.join(format!("{id}.{ext}"));
        if p.exists() {
            return Ok(String::from_utf8_lossy(&read_file(&p)?).into_owned());
        }
    }
    Err(Failure::Input(format!(
        "{}: no RIM {id}.xml (or .swidtag)",
        dir.display()
    )))
}
