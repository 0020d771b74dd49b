//! The simulated H100: seed → identity, a configurable firmware set → 64 measurement registers and
//! opaque data, GET_MEASUREMENTS answered byte-exact (gpu.md §1, §2, §9), and the matching signed RIMs.

use sha2::{Digest, Sha384};

use crate::layout::opaque::encode_vbios_version;
use crate::layout::{
    GetMeasurementsRequest, MeasurementBlock, MeasurementsResponse, OpaqueData, OpaqueType,
    DIGEST_SIZE, H100_BLOCKS,
};
use crate::pki::{DeviceCas, DeviceIdentity, KeyCert, PkiError, RimPki};
use crate::rim::{driver_rim_id, vbios_rim_id, Resource, Rim, RimKind};

/// RIM indices (0-based) the VBIOS RIM marks active: 0–6 and 8–12 (gpu.md §2).
pub const VBIOS_ACTIVE: [u32; 12] = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12];
/// RIM indices the driver RIM marks active: 7 and 21–40 (gpu.md §2).
pub const DRIVER_ACTIVE: [u32; 21] = [
    7, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
];
/// The RIM index whose register this model folds the CC mode into (block 40). The real report
/// carries no CC mode (gpu.md §6.5, §9 open); this is the model's choice, so devtools evidence fails a
/// production RIM as a relying party wants.
pub const CC_MODE_INDEX: u32 = 39;

/// Number of golden alternatives of a RIM index, as seen in NVIDIA's RIMs (VBIOS 12: 4; driver 35: 4;
/// driver 23, 24, 32, 33, 34: 2).
pub fn alternatives(kind: RimKind, index: u32) -> u32 {
    match (kind, index) {
        (RimKind::Vbios, 12) | (RimKind::Driver, 35) => 4,
        (RimKind::Driver, 23 | 24 | 32 | 33 | 34) => 2,
        _ => 1,
    }
}

/// The firmware a simulated H100 runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmwareSet {
    /// Driver version (`DRIVER_VERSION`), e.g. `550.90.07`.
    pub driver_version: String,
    /// VBIOS version, dotted, e.g. `96.00.9F.00.01`.
    pub vbios_version: String,
    /// `PROJECT` ("1010" PCIe board, "G520" HGX SXM).
    pub project: String,
    /// `PROJECT_SKU`.
    pub project_sku: String,
    /// `CHIP_SKU`.
    pub chip_sku: String,
    /// `CHIP_SKU_MOD`.
    pub chip_sku_mod: String,
    /// `BOARD_ID`.
    pub board_id: u32,
}

impl Default for FirmwareSet {
    /// H100 PCIe 1010/0200/882, driver 550.90.07, VBIOS 96.00.9F.00.01 (the NRAS capture's set).
    fn default() -> Self {
        FirmwareSet {
            driver_version: "550.90.07".into(),
            vbios_version: "96.00.9F.00.01".into(),
            project: "1010".into(),
            project_sku: "0200".into(),
            chip_sku: "882".into(),
            chip_sku_mod: "0".into(),
            board_id: 0x3b1,
        }
    }
}

impl FirmwareSet {
    /// The golden digest of RIM index `index`, alternative `alt`, for this firmware: SHA-384 of
    /// `"cvmsim/gpu/golden" ‖ kind ‖ version ‖ index ‖ alt` (simulated firmware has no real image).
    pub fn golden(&self, kind: RimKind, index: u32, alt: u32) -> [u8; DIGEST_SIZE] {
        let mut h = Sha384::new();
        h.update(b"cvmsim/gpu/golden\0");
        match kind {
            RimKind::Driver => {
                h.update(b"driver\0");
                h.update(self.driver_version.as_bytes());
            }
            RimKind::Vbios => {
                h.update(b"vbios\0");
                h.update(self.vbios_version.to_uppercase().as_bytes());
                h.update(self.project.as_bytes());
                h.update(self.project_sku.as_bytes());
                h.update(self.chip_sku.as_bytes());
            }
        }
        h.update([0]);
        h.update(index.to_le_bytes());
        h.update(alt.to_le_bytes());
        h.finalize().into()
    }

    /// FWID: SHA-384 of the simulated FMC image, named by the VBIOS version.
    pub fn fwid(&self) -> [u8; 48] {
        let mut h = Sha384::new();
        h.update(b"cvmsim/gpu/fmc\0");
        h.update(self.vbios_version.to_uppercase().as_bytes());
        h.finalize().into()
    }

    /// The driver RIM id.
    pub fn driver_rim_id(&self) -> String {
        driver_rim_id(&self.driver_version)
    }

    /// The VBIOS RIM id.
    pub fn vbios_rim_id(&self) -> String {
        vbios_rim_id(
            &self.project,
            &self.project_sku,
            &self.chip_sku,
            &self.vbios_version,
        )
    }
}

/// CC mode (gpu.md §6.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcMode {
    /// CC on: attestation available.
    On,
    /// CC off: no attestation report (NVML returns an error).
    Off,
    /// Developer tools mode: attestation available, measured differently (see [`CC_MODE_INDEX`]).
    Devtools,
}

/// How a simulated device is configured.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// The seed: picks the device identity and which golden alternative each multi-valued register holds.
    pub seed: u64,
    /// Firmware.
    pub firmware: FirmwareSet,
    /// CC mode.
    pub cc_mode: CcMode,
    /// Protected PCIe (PPCIe): `PROTECTED_PCIE_STATUS = 0xAA`, `FEATURE_FLAG = 2`.
    pub ppcie: bool,
    /// NVDEC0 enabled (`NVDEC0_STATUS` 0xAA, else 0x55).
    pub nvdec0_enabled: bool,
}

impl DeviceConfig {
    /// Defaults for a seed: default firmware, CC on, no PPCIe, NVDEC0 disabled (as the captures).
    pub fn new(seed: u64) -> Self {
        DeviceConfig {
            seed,
            firmware: FirmwareSet::default(),
            cc_mode: CcMode::On,
            ppcie: false,
            nvdec0_enabled: false,
        }
    }
}

/// A device error (the model's answer to a request it cannot serve).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// CC mode is off: the GPU produces no attestation report.
    #[error("CC mode is off: the GPU produces no attestation report (NVML returns NVML_ERROR_NOT_SUPPORTED)")]
    CcOff,
    /// The VBIOS version is not `XX.XX.XX.XX.XX`.
    #[error("VBIOS version {0:?} is not five dot-separated hex bytes")]
    BadVbiosVersion(String),
    /// A firmware field holds characters a RIM id or an opaque ASCII field cannot carry.
    #[error("{field} {value:?}: only ASCII letters, digits, '.', '_' and '-' are allowed")]
    BadFirmwareField {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// The PKI could not be built.
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// A simulated H100.
#[derive(Clone, Debug)]
pub struct H100 {
    /// Configuration.
    pub config: DeviceConfig,
    /// The device CAs (L1 root, L2, L3).
    pub cas: DeviceCas,
    /// IK and AK.
    pub identity: DeviceIdentity,
    /// The 64 measurement registers (block i + 1 = register i).
    pub registers: Vec<[u8; DIGEST_SIZE]>,
    vbios_bytes: [u8; 8],
}

impl H100 {
    /// Builds the device.
    pub fn new(config: DeviceConfig) -> Result<Self, DeviceError> {
        let fw = &config.firmware;
        for (field, value) in [
            ("driver version", &fw.driver_version),
            ("project", &fw.project),
            ("project SKU", &fw.project_sku),
            ("chip SKU", &fw.chip_sku),
            ("chip SKU mod", &fw.chip_sku_mod),
        ] {
            let ok = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
            if !ok {
                return Err(DeviceError::BadFirmwareField {
                    field,
                    value: value.clone(),
                });
            }
        }
        let vbios_bytes = encode_vbios_version(&fw.vbios_version)
            .ok_or_else(|| DeviceError::BadVbiosVersion(fw.vbios_version.clone()))?;
        let cas = DeviceCas::new()?;
        let identity = DeviceIdentity::new(&cas, config.seed, &fw.fwid())?;
        let mut registers = vec![[0u8; DIGEST_SIZE]; H100_BLOCKS];
        for (kind, active) in [
            (RimKind::Vbios, &VBIOS_ACTIVE[..]),
            (RimKind::Driver, &DRIVER_ACTIVE[..]),
        ] {
            for &i in active {
                let alts = alternatives(kind, i);
                let alt = u32::try_from(config.seed % u64::from(alts)).unwrap_or(0);
                let mut v = fw.golden(kind, i, alt);
                if i == CC_MODE_INDEX && config.cc_mode == CcMode::Devtools {
                    v = Sha384::digest([&b"cvmsim/gpu/devtools\0"[..], &v].concat()).into();
                }
                if let Some(r) = registers.get_mut(usize::try_from(i).unwrap_or(usize::MAX)) {
                    *r = v;
                }
            }
        }
        Ok(H100 {
            config,
            cas,
            identity,
            registers,
            vbios_bytes,
        })
    }

    /// The opaque data, in the order Hopper drivers emit it: 6, 14, 15, 16, 17, 18, 19, 3, 4, 12,
    /// 13, 11, 20, 21, 34, 36 (gpu.md §2), with the encodings of the 580.159.03 capture.
    pub fn opaque_data(&self) -> OpaqueData {
        let fw = &self.config.firmware;
        let padded = |s: &str, n: usize| {
            let mut v = s.as_bytes().to_vec();
            v.resize(n.max(s.len() + 1), 0);
            v
        };
        let mut o = OpaqueData::default();
        o.push(OpaqueType::VBIOS_VERSION, self.vbios_bytes.to_vec());
        o.push(OpaqueType::BOARD_ID, fw.board_id.to_le_bytes().to_vec());
        o.push(OpaqueType::CHIP_SKU, padded(&fw.chip_sku, 9));
        o.push(OpaqueType::CHIP_SKU_MOD, padded(&fw.chip_sku_mod, 5));
        o.push(OpaqueType::PROJECT, padded(&fw.project, 5));
        o.push(OpaqueType::PROJECT_SKU, padded(&fw.project_sku, 5));
        o.push(OpaqueType::PROJECT_SKU_MOD, vec![0, 0]);
        o.push(OpaqueType::DRIVER_VERSION, padded(&fw.driver_version, 0));
        o.push(OpaqueType::GPU_INFO, vec![0x80, 0x01, 0, 0, 0, 0, 0, 0]);
        let counts: Vec<u8> = self
            .registers
            .iter()
            .flat_map(|r| u32::from(r.iter().any(|b| *b != 0)).to_le_bytes())
            .collect();
        o.push(OpaqueType::MSRSCNT, counts);
        o.push(OpaqueType::CPRINFO, vec![0x00, 0xc0, 0x01, 0x00]);
        o.push(
            OpaqueType::NVDEC0_STATUS,
            vec![if self.config.nvdec0_enabled {
                0xAA
            } else {
                0x55
            }],
        );
        o.push(OpaqueType::FWID, fw.fwid().to_vec());
        o.push(
            OpaqueType::PROTECTED_PCIE_STATUS,
            vec![if self.config.ppcie { 0xAA } else { 0x55 }],
        );
        o.push(OpaqueType::OPAQUE_DATA_VERSION, vec![1, 0]);
        o.push(
            OpaqueType::FEATURE_FLAG,
            vec![if self.config.ppcie { 2 } else { 0 }, 0],
        );
        o
    }

    /// Answers GET_MEASUREMENTS (all blocks, signed) for the verifier's `nonce`: returns the report
    /// `request ‖ response`, signed by the AK over request ‖ response-without-signature (raw `r‖s`).
    pub fn get_measurements(&self, nonce: [u8; 32]) -> Result<Vec<u8>, DeviceError> {
        self.get_measurements_with(nonce, |_| {})
    }

    /// As [`H100::get_measurements`], letting `edit` change the response before it is signed (for
    /// deliberately wrong evidence that is still correctly signed).
    pub fn get_measurements_with(
        &self,
        nonce: [u8; 32],
        edit: impl FnOnce(&mut MeasurementsResponse),
    ) -> Result<Vec<u8>, DeviceError> {
        use signature::Signer;
        use zerocopy::IntoBytes;
        if self.config.cc_mode == CcMode::Off {
            return Err(DeviceError::CcOff);
        }
        let request = GetMeasurementsRequest::new(nonce);
        let responder_nonce = {
            let mut h = Sha384::new();
            h.update(b"cvmsim/gpu/responder-nonce\0");
            h.update(nonce);
            h.update(sim_core::rng::bytes::<32>(
                "gpu/device/responder-nonce",
                self.config.seed,
            ));
            let d = h.finalize();
            let mut n = [0u8; 32];
            n.copy_from_slice(&d[..32]);
            n
        };
        let mut resp = MeasurementsResponse {
            header: MeasurementsResponse::h100_header(),
            blocks: self
                .registers
                .iter()
                .enumerate()
                .map(|(i, r)| MeasurementBlock::digest(u8::try_from(i + 1).unwrap_or(0), *r))
                .collect(),
            nonce: responder_nonce,
            opaque: self.opaque_data(),
            opaque_length: 0,
            signature: Vec::new(),
        };
        edit(&mut resp);
        let mut report = request.as_bytes().to_vec();
        report.extend(resp.encode());
        let s: p384::ecdsa::Signature = self.identity.ak.key.sign(&report);
        report.extend_from_slice(&s.to_bytes());
        Ok(report)
    }

    /// The PEM chain `[AK, IK, L3, L2, L1]` as NVML returns it.
    pub fn cert_chain_pem(&self) -> String {
        [
            &self.identity.ak,
            &self.identity.ik,
            &self.cas.l3,
            &self.cas.l2,
            &self.cas.l1,
        ]
        .iter()
        .map(|k: &&KeyCert| k.pem())
        .collect()
    }

    /// The unsigned RIM of `kind` for this device's firmware: every index 0..63, the active ones with
    /// all golden alternatives, the others inactive with a zero hash.
    pub fn rim(&self, kind: RimKind) -> Rim {
        let fw = &self.config.firmware;
        let active: &[u32] = match kind {
            RimKind::Driver => &DRIVER_ACTIVE,
            RimKind::Vbios => &VBIOS_ACTIVE,
        };
        let resources = (0..64u32)
            .map(|i| {
                let on = active.contains(&i);
                let hashes = if on {
                    (0..alternatives(kind, i))
                        .map(|a| hex::encode(fw.golden(kind, i, a)))
                        .collect()
                } else {
                    vec!["0".repeat(96)]
                };
                Resource {
                    index: i,
                    active: on,
                    hashes,
                    name: format!("Measurement_{i}"),
                    size: 48,
                }
            })
            .collect();
        let (version, id) = match kind {
            RimKind::Driver => (fw.driver_version.clone(), fw.driver_rim_id()),
            RimKind::Vbios => (fw.vbios_version.to_uppercase(), fw.vbios_rim_id()),
        };
        Rim {
            tag_id: hex::encode(Sha384::digest(id.as_bytes())),
            colloquial_version: version,
            product: "GH100".into(),
            manufacturer_id: "5703".into(),
            resources,
        }
    }
}

/// Signs a RIM under the simulated RIM PKI.
pub fn sign_rim(rim: &Rim, pki: &RimPki) -> Result<String, crate::xmldsig::DsigError> {
    crate::xmldsig::sign_enveloped(&rim.to_xml(), &pki.signer.key, &pki.key_info())
}
