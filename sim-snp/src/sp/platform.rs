//! A simulated chip: product, seed, CHIP_ID, firmware version, TCBs, platform configuration, keys.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha384};

use crate::keys::{self, HashSticks};
use crate::layout::{PlatformInfo, TcbVersion};
use crate::pki::{self, Endorsement};
use crate::product::Product;
use crate::report::ReportVersion;

/// A VLEK loaded by the host (SNP_VLEK_LOAD) for a cloud provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VlekConfig {
    /// The cloud service provider's ID, written into the VLEK certificate's `csp_id`.
    pub csp_id: String,
}

/// How a chip is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformConfig {
    /// Product line.
    pub product: Product,
    /// Seed: picks the chip (its boot-ROM seed and CHIP_ID).
    pub seed: u64,
    /// Firmware version (MAJOR, MINOR, BUILD).
    pub firmware: (u8, u8, u8),
    /// COMMITTED_TCB (also CURRENT_TCB: no uncommitted firmware).
    pub tcb: TcbVersion,
    /// REPORTED_TCB set by SNP_CONFIG, if any (must be ≤ COMMITTED_TCB); else the committed TCB.
    pub reported_tcb: Option<TcbVersion>,
    /// Report version the firmware emits.
    pub report_version: ReportVersion,
    /// PLATFORM_INFO.
    pub platform_info: PlatformInfo,
    /// MASK_CHIP_ID (SNP_CONFIG): CHIP_ID reads as zero.
    pub mask_chip_id: bool,
    /// MASK_CHIP_KEY (SNP_CONFIG): the VCEK is not used.
    pub mask_chip_key: bool,
    /// A loaded VLEK.
    pub vlek: Option<VlekConfig>,
    /// The verified mitigation vector (report v5 CURRENT/LAUNCH_MIT_VECTOR).
    pub mit_vector: u64,
}

impl PlatformConfig {
    /// A chip of `product` with realistic defaults: the TCB and platform info of a real capture of
    /// that product, the firmware that emits report v5 (v3 on Milan, whose firmware stops at v3 in the
    /// captures), no masks, no VLEK.
    pub fn new(product: Product, seed: u64) -> Self {
        let (tcb, report_version, mit) = match product {
            Product::Milan => (TcbVersion::legacy(4, 0, 24, 219), ReportVersion::V3, 0),
            Product::Genoa => (TcbVersion::legacy(10, 0, 23, 84), ReportVersion::V5, 0xb),
            Product::Turin => (TcbVersion::turin(1, 1, 1, 4, 81), ReportVersion::V5, 0x3f),
        };
        PlatformConfig {
            product,
            seed,
            firmware: product.default_firmware(),
            tcb,
            reported_tcb: None,
            report_version,
            platform_info: PlatformInfo(
                PlatformInfo::SMT_EN | PlatformInfo::ECC_EN | PlatformInfo::ALIAS_CHECK_COMPLETE,
            ),
            mask_chip_id: false,
            mask_chip_key: false,
            vlek: None,
            mit_vector: mit,
        }
    }
}

/// A configuration the firmware refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// REPORTED_TCB above COMMITTED_TCB: its VCEK is not derivable.
    #[error("reported TCB {reported} is above the committed TCB {committed} in component {index}")]
    ReportedAboveCommitted {
        /// Reported TCB.
        reported: TcbVersion,
        /// Committed TCB.
        committed: TcbVersion,
        /// TCB byte index.
        index: usize,
    },
}

/// A simulated chip.
pub struct Platform {
    /// Its configuration.
    pub config: PlatformConfig,
    /// The boot-ROM seed of the hash sticks (never leaves the chip on hardware).
    chip_seed: [u8; 48],
    /// CHIP_ID (unmasked; Turin: 8 bytes then zeros).
    chip_id: [u8; 64],
    /// Hash sticks at the committed TCB.
    sticks: HashSticks,
    /// Derived VCEKs by TCB bytes.
    vceks: Mutex<HashMap<[u8; 8], p384::SecretKey>>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("config", &self.config)
            .field("chip_id", &hex::encode(self.chip_id))
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// Builds a chip; the reported TCB must be derivable from the committed one.
    pub fn new(config: PlatformConfig) -> Result<Platform, ConfigError> {
        let product = config.product;
        let chip_seed: [u8; 48] = sim_core::rng::bytes(
            &format!("snp-chip-seed/{}", product.cli_name()),
            config.seed,
        );
        let mut chip_id: [u8; 64] =
            sim_core::rng::bytes(&format!("snp-chip-id/{}", product.cli_name()), config.seed);
        if product == Product::Turin {
            chip_id[8..].fill(0);
        }
        let sticks = HashSticks::from_seed(&chip_seed, &config.tcb, product);
        if let Some(r) = config.reported_tcb {
            if let Err(e) = sticks.derive_lower(&r) {
                return Err(ConfigError::ReportedAboveCommitted {
                    reported: r,
                    committed: config.tcb,
                    index: e.index,
                });
            }
        }
        Ok(Platform {
            config,
            chip_seed,
            chip_id,
            sticks,
            vceks: Mutex::new(HashMap::new()),
        })
    }

    /// The product.
    pub fn product(&self) -> Product {
        self.config.product
    }

    /// CHIP_ID as the chip holds it (unmasked).
    pub fn chip_id(&self) -> [u8; 64] {
        self.chip_id
    }

    /// CHIP_ID as reports show it (zero under MASK_CHIP_ID).
    pub fn reported_chip_id(&self) -> [u8; 64] {
        if self.config.mask_chip_id {
            [0; 64]
        } else {
            self.chip_id
        }
    }

    /// COMMITTED_TCB.
    pub fn committed_tcb(&self) -> TcbVersion {
        self.config.tcb
    }

    /// REPORTED_TCB: the SNP_CONFIG value if set, else the committed TCB (ASPFW `get_reported_tcb`).
    pub fn reported_tcb(&self) -> TcbVersion {
        self.config.reported_tcb.unwrap_or(self.config.tcb)
    }

    /// `vcek_hash` at `tcb` (≤ committed), as firmware re-derives it for an older TCB.
    pub fn vcek_hash(&self, tcb: &TcbVersion) -> Result<[u8; 48], keys::NotDerivable> {
        Ok(self.sticks.derive_lower(tcb)?.vcek_hash())
    }

    /// The VCEK at `tcb` (≤ committed), cached.
    pub fn vcek(&self, tcb: &TcbVersion) -> Result<p384::SecretKey, keys::NotDerivable> {
        let k = tcb.to_bytes(self.product().tcb_layout());
        if let Some(key) = self.vceks.lock().ok().and_then(|m| m.get(&k).cloned()) {
            return Ok(key);
        }
        let key = keys::key_from_hash(&self.vcek_hash(tcb)?, keys::VCEK_LABEL);
        if let Ok(mut m) = self.vceks.lock() {
            m.insert(k, key.clone());
        }
        Ok(key)
    }

    /// The VCEK a KDS would derive for this chip at any `tcb`, above the committed one too: the KDS holds
    /// AMD's copy of every chip's seed, so it can issue VCEKs for TCBs the chip has not reached yet.
    pub fn kds_vcek(&self, tcb: &TcbVersion) -> p384::SecretKey {
        keys::vcek(&self.chip_seed, tcb, self.product())
    }

    /// The VLEK seed AMD's KDS provisions for `csp_id` at `tcb` (simulated: SHA-384 of the provider,
    /// product and TCB under a fixed label; real VLEK seeds are AMD's secret).
    pub fn vlek_seed(&self, csp_id: &str, tcb: &TcbVersion) -> [u8; 48] {
        let mut h = Sha384::new();
        h.update(b"cvmsim-vlek-seed\0");
        h.update(self.product().name().as_bytes());
        h.update([0]);
        h.update(csp_id.as_bytes());
        h.update([0]);
        h.update(tcb.to_bytes(self.product().tcb_layout()));
        h.finalize().into()
    }

    /// The loaded VLEK at `tcb`, if one is loaded.
    pub fn vlek(&self, tcb: &TcbVersion) -> Option<p384::SecretKey> {
        self.config
            .vlek
            .as_ref()
            .map(|v| keys::vlek(&self.vlek_seed(&v.csp_id, tcb)))
    }

    /// The VCEK certificate at `tcb`, issued at `issued_at`, as the KDS serves it.
    pub fn vcek_cert(
        &self,
        tcb: &TcbVersion,
        issued_at: i64,
    ) -> Result<Vec<u8>, sim_core::x509::X509Error> {
        pki::issue_vcek(
            self.product(),
            &self.chip_id,
            tcb,
            &self.kds_vcek(tcb).public_key(),
            issued_at,
        )
    }

    /// The VLEK certificate at `tcb`, if a VLEK is loaded.
    pub fn vlek_cert(
        &self,
        tcb: &TcbVersion,
        issued_at: i64,
    ) -> Option<Result<Vec<u8>, sim_core::x509::X509Error>> {
        let v = self.config.vlek.as_ref()?;
        let key = keys::vlek(&self.vlek_seed(&v.csp_id, tcb));
        Some(pki::issue_vlek(
            self.product(),
            &v.csp_id,
            tcb,
            &key.public_key(),
            issued_at,
        ))
    }

    /// The KDS `cert_chain` PEM of this product for `e`.
    pub fn cert_chain_pem(&self, e: Endorsement) -> String {
        pki::vendor(self.product()).cert_chain_pem(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_pick_chips_and_turin_chip_ids_are_eight_bytes() {
        let a = Platform::new(PlatformConfig::new(Product::Genoa, 1)).unwrap();
        let b = Platform::new(PlatformConfig::new(Product::Genoa, 2)).unwrap();
        assert_ne!(a.chip_id(), b.chip_id());
        assert_eq!(
            a.chip_id(),
            Platform::new(PlatformConfig::new(Product::Genoa, 1))
                .unwrap()
                .chip_id()
        );
        let t = Platform::new(PlatformConfig::new(Product::Turin, 1)).unwrap();
        assert!(t.chip_id()[8..].iter().all(|b| *b == 0));
        assert!(t.chip_id()[..8].iter().any(|b| *b != 0));
    }

    #[test]
    fn reported_tcb_above_committed_is_refused() {
        let mut c = PlatformConfig::new(Product::Milan, 0);
        c.reported_tcb = Some(TcbVersion::legacy(4, 0, 25, 0));
        assert!(matches!(
            Platform::new(c.clone()),
            Err(ConfigError::ReportedAboveCommitted { index: 6, .. })
        ));
        c.reported_tcb = Some(TcbVersion::legacy(3, 0, 20, 200));
        let p = Platform::new(c).unwrap();
        // The chip's re-derived key at the reported TCB is the key the KDS issues for that TCB.
        let r = p.reported_tcb();
        assert_eq!(p.vcek(&r).unwrap().to_bytes(), p.kds_vcek(&r).to_bytes());
    }
}
