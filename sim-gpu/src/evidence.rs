//! Evidence as files, the form NVIDIA's tools read (`cli.md` `cvmsim gpu evidence`): the hex report,
//! the binary report, the PEM chain, the roots, the signed RIMs named by RIM id, and NVIDIA's evidence
//! JSON. Also the deliberately broken variants verifiers must reject.

use base64::Engine;

use crate::device::{sign_rim, DeviceConfig, DeviceError, H100};
use crate::layout::OpaqueType;
use crate::pki::RimPki;
use crate::rim::RimKind;

/// A deliberately wrong piece of evidence (each one a verifier must reject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// A driver-measured block (RIM index 7) changed, correctly signed.
    Measurement,
    /// A VBIOS-measured block (RIM index 0) changed, correctly signed.
    VbiosMeasurement,
    /// One bit of the signature flipped.
    Signature,
    /// Signed by another device's AK.
    WrongKey,
    /// The FWID TLV differs from the AK extension, correctly signed.
    Fwid,
    /// The request carries another nonce than the one asked for.
    Nonce,
    /// The chain has four certificates (the root left out).
    FourCerts,
    /// A golden hash of the driver RIM edited after signing.
    RimHash,
    /// A RIM signed by a key outside the RIM PKI.
    RimWrongSigner,
    /// NVDEC0 disabled (0x55) and block 36 (RIM index 35) off its golden values, correctly signed.
    /// Verifiers disagree (gpu.md §4.3): NVAT skips index 35 when NVDEC0 is disabled and accepts, as
    /// this project's verifier does; NVIDIA's Python verifier never skips it and rejects.
    Nvdec0Index35,
}

impl Tamper {
    /// Every variant with its command-line name.
    pub const ALL: [(&'static str, Tamper); 9] = [
        ("measurement", Tamper::Measurement),
        ("vbios-measurement", Tamper::VbiosMeasurement),
        ("signature", Tamper::Signature),
        ("wrong-key", Tamper::WrongKey),
        ("fwid", Tamper::Fwid),
        ("nonce", Tamper::Nonce),
        ("four-certs", Tamper::FourCerts),
        ("rim-hash", Tamper::RimHash),
        ("rim-wrong-signer", Tamper::RimWrongSigner),
    ];

    /// Variants on which verifiers disagree (not in [`Tamper::ALL`]): name, variant.
    pub const DISPUTED: [(&'static str, Tamper); 1] = [("nvdec0-index35", Tamper::Nvdec0Index35)];

    /// Looks a variant up by name.
    pub fn from_name(s: &str) -> Option<Tamper> {
        Self::ALL
            .iter()
            .chain(Self::DISPUTED.iter())
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
    }

    /// The verifier check (rule ID of [`crate::verify::verify`]) this variant must fail.
    pub fn rule(self) -> &'static str {
        match self {
            Tamper::Measurement | Tamper::VbiosMeasurement => "GPU-MEASUREMENTS",
            Tamper::Signature | Tamper::WrongKey => "GPU-REPORT-SIGNATURE",
            Tamper::Fwid => "GPU-FWID-MATCH",
            Tamper::Nonce => "GPU-NONCE-MATCH",
            Tamper::FourCerts => "GPU-CERT-CHAIN-COUNT",
            Tamper::RimHash | Tamper::RimWrongSigner => "GPU-DRIVER-RIM-SIGNATURE",
            // Accepted here (NVAT's rule); NVIDIA's Python verifier fails this measurement.
            Tamper::Nvdec0Index35 => "GPU-MEASUREMENTS",
        }
    }
}

/// One device's evidence for one nonce.
#[derive(Clone, Debug)]
pub struct EvidenceSet {
    /// The nonce the verifier asked with.
    pub nonce: [u8; 32],
    /// `request ‖ response`.
    pub report: Vec<u8>,
    /// `[AK, IK, L3, L2, L1]` PEM.
    pub chain_pem: String,
    /// The simulated device root (L1) PEM.
    pub root_pem: String,
    /// `(RIM id, signed XML)`: driver, then VBIOS.
    pub rims: Vec<(String, String)>,
    /// The simulated RIM root PEM.
    pub rim_root_pem: String,
}

/// Issues evidence for `nonce` from the device `config` describes, optionally broken as `tamper` says.
pub fn issue(
    config: DeviceConfig,
    nonce: [u8; 32],
    tamper: Option<Tamper>,
) -> Result<EvidenceSet, EvidenceError> {
    let mut config = config;
    if tamper == Some(Tamper::Nvdec0Index35) {
        config.nvdec0_enabled = false;
    }
    let dev = H100::new(config.clone())?;
    let rim_pki = RimPki::new().map_err(DeviceError::from)?;
    let asked = match tamper {
        Some(Tamper::Nonce) => {
            let mut n = nonce;
            n[0] ^= 0xff;
            n
        }
        _ => nonce,
    };
    let mut report = match tamper {
        Some(Tamper::Measurement | Tamper::VbiosMeasurement | Tamper::Nvdec0Index35) => {
            // 0-based block positions: RIM index 7 (driver), 0 (VBIOS), 35 (driver, NVDEC).
            let block = match tamper {
                Some(Tamper::Measurement) => 7,
                Some(Tamper::Nvdec0Index35) => 35,
                _ => 0,
            };
            dev.get_measurements_with(asked, |r| {
                if let Some(b) = r.blocks.get_mut(block) {
                    if let Some(x) = b.value.first_mut() {
                        *x ^= 0x01;
                    }
                }
            })?
        }
        Some(Tamper::Fwid) => dev.get_measurements_with(asked, |r| {
            if let Some(f) = r
                .opaque
                .fields
                .iter_mut()
                .find(|f| f.kind == OpaqueType::FWID)
            {
                if let Some(x) = f.value.first_mut() {
                    *x ^= 0x01;
                }
            }
        })?,
        Some(Tamper::WrongKey) => {
            let mut other = config.clone();
            other.seed = config.seed.wrapping_add(0x5eed);
            let odev = H100::new(other)?;
            let mut dev2 = dev.clone();
            dev2.identity.ak.key = odev.identity.ak.key;
            dev2.get_measurements(asked)?
        }
        _ => dev.get_measurements(asked)?,
    };
    if tamper == Some(Tamper::Signature) {
        if let Some(x) = report.last_mut() {
            *x ^= 0x01;
        }
    }
    let mut chain_pem = dev.cert_chain_pem();
    if tamper == Some(Tamper::FourCerts) {
        chain_pem = [&dev.identity.ak, &dev.identity.ik, &dev.cas.l3, &dev.cas.l2]
            .iter()
            .map(|k| k.pem())
            .collect();
    }
    let mut rims = Vec::new();
    for kind in [RimKind::Driver, RimKind::Vbios] {
        let rim = dev.rim(kind);
        let id = match kind {
            RimKind::Driver => config.firmware.driver_rim_id(),
            RimKind::Vbios => config.firmware.vbios_rim_id(),
        };
        let mut xml = if tamper == Some(Tamper::RimWrongSigner) && kind == RimKind::Driver {
            let mut rogue = rim_pki.clone();
            rogue.signer.key = crate::pki::key("gpu/pki/rogue-rim-signer", 0);
            sign_rim(&rim, &rogue)?
        } else {
            sign_rim(&rim, &rim_pki)?
        };
        if tamper == Some(Tamper::RimHash) && kind == RimKind::Driver {
            if let Some(h) = rim.resources.get(7).and_then(|r| r.hashes.first()) {
                let mut bad = h.clone();
                bad.replace_range(0..1, if h.starts_with('0') { "1" } else { "0" });
                xml = xml.replacen(h.as_str(), &bad, 1);
            }
        }
        rims.push((id, xml));
    }
    Ok(EvidenceSet {
        nonce,
        report,
        chain_pem,
        root_pem: dev.cas.l1.pem(),
        rims,
        rim_root_pem: rim_pki.root.pem(),
    })
}

/// Why evidence could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The device refused or could not be built.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A RIM could not be signed.
    #[error(transparent)]
    Dsig(#[from] crate::xmldsig::DsigError),
}

impl EvidenceSet {
    /// NVIDIA's evidence JSON: `[{"arch": "HOPPER", "nonce": hex, "evidence": b64(report),
    /// "certificate": b64(PEM chain)}]` (NVAT `hopper_evidence.json`, NRAS `evidence_list`).
    pub fn evidence_json(&self) -> serde_json::Value {
        let b = base64::engine::general_purpose::STANDARD;
        serde_json::json!([{
            "arch": "HOPPER",
            "nonce": hex::encode(self.nonce),
            "evidence": b.encode(&self.report),
            "certificate": b.encode(self.chain_pem.as_bytes()),
        }])
    }

    /// The files of `cvmsim gpu evidence --out DIR`, relative names.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut v = vec![
            (
                "report.hex".to_string(),
                format!("{}\n", hex::encode(&self.report)).into_bytes(),
            ),
            ("report.bin".to_string(), self.report.clone()),
            (
                "certchain.pem".to_string(),
                self.chain_pem.clone().into_bytes(),
            ),
            (
                "root_ca.pem".to_string(),
                self.root_pem.clone().into_bytes(),
            ),
            (
                "rim_root_ca.pem".to_string(),
                self.rim_root_pem.clone().into_bytes(),
            ),
        ];
        for (id, xml) in &self.rims {
            v.push((format!("rims/{id}.xml"), xml.clone().into_bytes()));
        }
        let j = serde_json::to_string_pretty(&self.evidence_json()).unwrap_or_default();
        v.push(("evidence.json".to_string(), format!("{j}\n").into_bytes()));
        v
    }
}
