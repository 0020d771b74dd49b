//! The simulated Intel SGX/TDX PKI (tdx.md §3.1, §3.2): "Intel SGX Root CA" → "Intel SGX PCK Platform CA"
//! → "Intel SGX PCK Certificate" (with the full SGX extension), "Intel SGX TCB Signing" directly under the
//! root, and the root and PCK CRLs.
//!
//! Names are Intel's (`CN=<name>, O=Intel Corporation, L=Santa Clara, ST=CA, C=US`) because verifiers check
//! the common names (go-tdx-guest checks all four); the simulation is marked by an extra
//! `OU=cvmsim simulation` attribute, which no verifier checks. Extensions and their order follow Intel's
//! certificates (AKI, CRL DP, SKI, KeyUsage critical, BasicConstraints critical, SGX extension).
//!
//! Keys are P-256, derived from fixed seeds with [`sim_core::rng::seeded`]: the CA keys from
//! `seed 0` (one simulated Intel), the PCK key from the platform seed. No key is committed.

use const_oid::ObjectIdentifier;
use p256::ecdsa::{Signature, SigningKey};
use signature::Signer;
use sim_core::x509::{self as sx, oids, CertSpec, CrlSpec, Str, X509Error};
use spki::EncodePublicKey;

/// CN of the root.
pub const CN_ROOT: &str = "Intel SGX Root CA";
/// CN of the PCK Platform CA.
pub const CN_PCK_PLATFORM_CA: &str = "Intel SGX PCK Platform CA";
/// CN of the PCK leaf.
pub const CN_PCK: &str = "Intel SGX PCK Certificate";
/// CN of the TCB signing certificate.
pub const CN_TCB_SIGNING: &str = "Intel SGX TCB Signing";
/// The OU that marks every simulated certificate.
pub const SIM_OU: &str = "cvmsim simulation";
/// CRL distribution point of the root (Intel's URL).
pub const ROOT_CRL_URL: &str = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
/// CRL distribution point of PCK certificates issued by the Platform CA (Intel's URL).
pub const PCK_CRL_URL: &str =
    "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
/// notAfter of Intel's SGX Root CA (2049-12-31T23:59:59Z).
pub const ROOT_NOT_AFTER: i64 = 2_524_607_999;
const YEAR: i64 = 365 * 86_400;

/// SGX extension OID 1.2.840.113741.1.13.1 and its children (dcap-qvl `oids.rs`).
pub const SGX_EXT_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1");
const SGX_OID_DER: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];

/// Errors of PKI issuance.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Certificate or CRL encoding failed.
    #[error("X.509: {0}")]
    X509(#[from] X509Error),
    /// Key encoding failed.
    #[error("key: {0}")]
    Key(String),
}

/// A P-256 key derived from `name` and `seed`.
pub fn derive_key(name: &str, seed: u64) -> SigningKey {
    let mut rng = sim_core::rng::seeded(name, seed);
    SigningKey::random(&mut rng)
}

/// DER ECDSA signature of `msg` (SHA-256) by `key`.
pub fn sign_der(key: &SigningKey, msg: &[u8]) -> Vec<u8> {
    let sig: Signature = key.sign(msg);
    sig.to_der().as_bytes().to_vec()
}

/// Raw r ‖ s signature of `msg` (SHA-256) by `key`, as quotes and collateral carry it.
pub fn sign_raw(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    let sig: Signature = key.sign(msg);
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    out
}

/// X ‖ Y of a P-256 public key (64 bytes).
pub fn raw_public(key: &SigningKey) -> [u8; 64] {
    let p = key.verifying_key().to_encoded_point(false);
    let mut out = [0u8; 64];
    if let Some(b) = p.as_bytes().get(1..65) {
        out.copy_from_slice(b);
    }
    out
}

fn spki_der(key: &SigningKey) -> Result<Vec<u8>, PkiError> {
    key.verifying_key()
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| PkiError::Key(e.to_string()))
}

/// Intel's DN with the simulation OU.
pub fn intel_name(cn: &str) -> Result<x509_cert::name::Name, X509Error> {
    sx::name(&[
        (oids::CN, Str::Utf8, cn),
        (oids::O, Str::Utf8, "Intel Corporation"),
        (oids::OU, Str::Utf8, SIM_OU),
        (oids::L, Str::Utf8, "Santa Clara"),
        (oids::ST, Str::Utf8, "CA"),
        (oids::C, Str::Printable, "US"),
    ])
}

fn serial_for(spki: &[u8], label: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    h.update(spki);
    let d = h.finalize();
    let mut s = d.get(..20).map(<[u8]>::to_vec).unwrap_or_default();
    if let Some(first) = s.first_mut() {
        *first = (*first & 0x7f) | 0x01;
    }
    s
}

fn crl_dp(url: &str) -> Vec<u8> {
    sx::tlv(
        0x30,
        &sx::tlv(
            0x30,
            &sx::tlv(0xa0, &sx::tlv(0xa0, &sx::tlv(0x86, url.as_bytes()))),
        ),
    )
}

fn key_id(spki: &[u8]) -> Result<Vec<u8>, PkiError> {
    use der::Decode;
    let info = spki::SubjectPublicKeyInfoOwned::from_der(spki).map_err(X509Error::from)?;
    Ok(sx::key_identifier(&info))
}

/// The platform TCB and identity the PCK certificate carries (SGX extension, tdx.md §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PckIdentity {
    /// PPID (16 bytes).
    pub ppid: [u8; 16],
    /// The 16 CPU SVN components (also the CPUSVN value).
    pub cpusvn: [u8; 16],
    /// PCE SVN.
    pub pcesvn: u16,
    /// PCE ID.
    pub pceid: [u8; 2],
    /// FMSPC.
    pub fmspc: [u8; 6],
    /// SGX type: 0 Standard, 1 Scalable, 2 ScalableWithIntegrity (real TDX PCKs: 1).
    pub sgx_type: u8,
    /// Platform instance ID (16 bytes).
    pub platform_instance_id: [u8; 16],
    /// Configuration: dynamicPlatform, cachedKeys, SMTEnabled.
    pub configuration: [bool; 3],
}

fn oid_tlv(suffix: &[u8]) -> Vec<u8> {
    let mut o = SGX_OID_DER.to_vec();
    o.extend_from_slice(suffix);
    sx::tlv(0x06, &o)
}

fn entry(suffix: &[u8], value: Vec<u8>) -> Vec<u8> {
    let mut c = oid_tlv(suffix);
    c.extend(value);
    sx::tlv(0x30, &c)
}

impl PckIdentity {
    /// DER of the SGX extension value (SEQUENCE of OID/value pairs, Intel's order).
    pub fn extension_der(&self) -> Vec<u8> {
        let mut tcb = Vec::new();
        for (i, svn) in (1u8..).zip(self.cpusvn) {
            tcb.extend(entry(&[2, i], sx::der_uint(u64::from(svn))));
        }
        tcb.extend(entry(&[2, 17], sx::der_uint(u64::from(self.pcesvn))));
        tcb.extend(entry(&[2, 18], sx::tlv(0x04, &self.cpusvn)));
        let mut conf = Vec::new();
        for (i, b) in (1u8..).zip(self.configuration) {
            conf.extend(entry(
                &[7, i],
                vec![0x01, 0x01, if b { 0xff } else { 0x00 }],
            ));
        }
        let mut all = Vec::new();
        all.extend(entry(&[1], sx::tlv(0x04, &self.ppid)));
        all.extend(entry(&[2], sx::tlv(0x30, &tcb)));
        all.extend(entry(&[3], sx::tlv(0x04, &self.pceid)));
        all.extend(entry(&[4], sx::tlv(0x04, &self.fmspc)));
        all.extend(entry(&[5], vec![0x0a, 0x01, self.sgx_type]));
        all.extend(entry(&[6], sx::tlv(0x04, &self.platform_instance_id)));
        all.extend(entry(&[7], sx::tlv(0x30, &conf)));
        sx::tlv(0x30, &all)
    }
}

/// The simulated Intel CA hierarchy with its CRLs, issued at one time.
pub struct IntelPki {
    /// Root key.
    pub root_key: SigningKey,
    /// PCK Platform CA key.
    pub pck_ca_key: SigningKey,
    /// TCB Signing key.
    pub tcb_key: SigningKey,
    /// Root certificate DER (self-signed).
    pub root_der: Vec<u8>,
    /// PCK Platform CA certificate DER.
    pub pck_ca_der: Vec<u8>,
    /// TCB Signing certificate DER.
    pub tcb_der: Vec<u8>,
    /// Root CA CRL DER (issuer: root).
    pub root_crl_der: Vec<u8>,
    /// PCK Platform CA CRL DER (issuer: PCK Platform CA).
    pub pck_crl_der: Vec<u8>,
    /// Issue time (Unix seconds) of certificates and CRLs.
    pub issued: i64,
}

/// What to revoke in the CRLs (for negative vectors).
#[derive(Clone, Debug, Default)]
pub struct Revocations {
    /// Serials revoked by the PCK CA CRL.
    pub pck: Vec<Vec<u8>>,
    /// Serials revoked by the root CRL.
    pub root: Vec<Vec<u8>>,
}

impl IntelPki {
    /// Issues the hierarchy at `issued`; the CRLs' nextUpdate is `issued + crl_validity` seconds.
    pub fn new(issued: i64, crl_validity: i64, rev: &Revocations) -> Result<Self, PkiError> {
        let root_key = derive_key("tdx/intel-sgx-root-ca", 0);
        let pck_ca_key = derive_key("tdx/intel-sgx-pck-platform-ca", 0);
        let tcb_key = derive_key("tdx/intel-sgx-tcb-signing", 0);
        let root_spki = spki_der(&root_key)?;
        let root_kid = key_id(&root_spki)?;
        let root_name = intel_name(CN_ROOT)?;
        let root_der = sx::build_cert(
            &CertSpec {
                serial: serial_for(&root_spki, CN_ROOT),
                issuer: root_name.clone(),
                subject: root_name.clone(),
                not_before: issued,
                not_after: ROOT_NOT_AFTER.max(issued + YEAR),
                spki_der: root_spki.clone(),
                extensions: vec![
                    sx::ext(oids::AKI, false, sx::aki_value(&root_kid)?)?,
                    sx::ext(oids::CRL_DP, false, crl_dp(ROOT_CRL_URL))?,
                    sx::ext(oids::SKI, false, sx::ski_value(&root_kid)?)?,
                    sx::ext(oids::KEY_USAGE, true, sx::key_usage(&[5, 6])?)?,
                    sx::ext(
                        oids::BASIC_CONSTRAINTS,
                        true,
                        sx::basic_constraints(true, Some(1))?,
                    )?,
                ],
                sig_alg: sx::alg_ecdsa_sha256(),
            },
            |tbs| sign_der(&root_key, tbs),
        )?;
        let ca_cert =
            |key: &SigningKey, cn: &str, ca: bool, years: i64| -> Result<Vec<u8>, PkiError> {
                let spki = spki_der(key)?;
                let kid = key_id(&spki)?;
                let (ku, bc) = if ca {
                    (
                        sx::key_usage(&[5, 6])?,
                        sx::basic_constraints(true, Some(0))?,
                    )
                } else {
                    (sx::key_usage(&[0, 1])?, sx::basic_constraints(false, None)?)
                };
                Ok(sx::build_cert(
                    &CertSpec {
                        serial: serial_for(&spki, cn),
                        issuer: root_name.clone(),
                        subject: intel_name(cn)?,
                        not_before: issued,
                        not_after: (issued + years * YEAR).min(ROOT_NOT_AFTER.max(issued + YEAR)),
                        spki_der: spki,
                        extensions: vec![
                            sx::ext(oids::AKI, false, sx::aki_value(&root_kid)?)?,
                            sx::ext(oids::CRL_DP, false, crl_dp(ROOT_CRL_URL))?,
                            sx::ext(oids::SKI, false, sx::ski_value(&kid)?)?,
                            sx::ext(oids::KEY_USAGE, true, ku)?,
                            sx::ext(oids::BASIC_CONSTRAINTS, true, bc)?,
                        ],
                        sig_alg: sx::alg_ecdsa_sha256(),
                    },
                    |tbs| sign_der(&root_key, tbs),
                )?)
            };
        let pck_ca_der = ca_cert(&pck_ca_key, CN_PCK_PLATFORM_CA, true, 15)?;
        let tcb_der = ca_cert(&tcb_key, CN_TCB_SIGNING, false, 7)?;
        let pck_ca_kid = key_id(&spki_der(&pck_ca_key)?)?;
        let crl = |issuer_cn: &str, key: &SigningKey, kid: &[u8], revoked: &[Vec<u8>]| {
            sx::build_crl(
                &CrlSpec {
                    issuer: intel_name(issuer_cn)?,
                    this_update: issued,
                    next_update: issued + crl_validity,
                    revoked: revoked
                        .iter()
                        .map(|s| sx::Revoked {
                            serial: s.clone(),
                            date: issued,
                        })
                        .collect(),
                    extensions: vec![
                        sx::ext(oids::CRL_NUMBER, false, sx::der_uint(1))?,
                        sx::ext(oids::AKI, false, sx::aki_value(kid)?)?,
                    ],
                    sig_alg: sx::alg_ecdsa_sha256(),
                },
                |tbs| sign_der(key, tbs),
            )
        };
        let root_crl_der = crl(CN_ROOT, &root_key, &root_kid, &rev.root)?;
        let pck_crl_der = crl(CN_PCK_PLATFORM_CA, &pck_ca_key, &pck_ca_kid, &rev.pck)?;
        Ok(IntelPki {
            root_key,
            pck_ca_key,
            tcb_key,
            root_der,
            pck_ca_der,
            tcb_der,
            root_crl_der,
            pck_crl_der,
            issued,
        })
    }

    /// Issues a PCK certificate for `key` with the SGX extension of `id` (valid 7 years, as Intel's).
    pub fn issue_pck(&self, key: &SigningKey, id: &PckIdentity) -> Result<Vec<u8>, PkiError> {
        let spki = spki_der(key)?;
        let kid = key_id(&spki)?;
        let ca_kid = key_id(&spki_der(&self.pck_ca_key)?)?;
        Ok(sx::build_cert(
            &CertSpec {
                serial: serial_for(&spki, CN_PCK),
                issuer: intel_name(CN_PCK_PLATFORM_CA)?,
                subject: intel_name(CN_PCK)?,
                not_before: self.issued,
                not_after: self.issued + 7 * YEAR,
                spki_der: spki,
                extensions: vec![
                    sx::ext(oids::AKI, false, sx::aki_value(&ca_kid)?)?,
                    sx::ext(oids::CRL_DP, false, crl_dp(PCK_CRL_URL))?,
                    sx::ext(oids::SKI, false, sx::ski_value(&kid)?)?,
                    sx::ext(oids::KEY_USAGE, true, sx::key_usage(&[0, 1])?)?,
                    sx::ext(
                        oids::BASIC_CONSTRAINTS,
                        true,
                        sx::basic_constraints(false, None)?,
                    )?,
                    sx::ext(SGX_EXT_OID, false, id.extension_der())?,
                ],
                sig_alg: sx::alg_ecdsa_sha256(),
            },
            |tbs| sign_der(&self.pck_ca_key, tbs),
        )?)
    }

    /// The serial number a PCK certificate for `key` gets (to revoke it).
    pub fn pck_serial(key: &SigningKey) -> Result<Vec<u8>, PkiError> {
        Ok(serial_for(&spki_der(key)?, CN_PCK))
    }

    /// PEM of the TCB-signing issuer chain (TCB Signing ‖ root), as PCS serves it.
    pub fn tcb_issuer_chain_pem(&self) -> String {
        sx::to_pem("CERTIFICATE", &self.tcb_der) + &sx::to_pem("CERTIFICATE", &self.root_der)
    }

    /// PEM of the PCK CRL issuer chain (PCK Platform CA ‖ root).
    pub fn pck_crl_issuer_chain_pem(&self) -> String {
        sx::to_pem("CERTIFICATE", &self.pck_ca_der) + &sx::to_pem("CERTIFICATE", &self.root_der)
    }
}
