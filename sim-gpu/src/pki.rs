//! The simulated PKIs: the five-certificate device chain shaped like NVIDIA's (gpu.md §3.1) and the
//! four-level RIM signing PKI (gpu.md §4.1).
//!
//! The CA levels (device L1/L2/L3, RIM root/CA/L3/L4 signer) are the same for every seed, like
//! NVIDIA's; their keys are derived from fixed seeds (`sim_core::rng::seeded("gpu/pki/<level>", 0)`)
//! and written to `vectors/keys/gpu/` by the key generator test. The IK and AK are per device (seed).
//! Every CA certificate carries `OU=cvmsim SIMULATED (not NVIDIA)` so no one mistakes it for NVIDIA's.

use const_oid::ObjectIdentifier;
use der::Encode;
use p384::ecdsa::SigningKey;
use p384::pkcs8::EncodePublicKey;
use sim_core::x509::{self, oids, CertSpec, Str};

/// The TCG DICE/RIoT extension NVIDIA uses for the FWID on Hopper (gpu.md §3.1).
pub const FWID_EXT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1");
/// The SAN otherName type carrying `NVIDIA:GH100:<device id>`.
pub const NVIDIA_DEVICE_ID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.412.274.1");
/// OU attribute value marking a simulated CA.
pub const SIMULATED_OU: &str = "cvmsim SIMULATED (not NVIDIA)";
/// notAfter of NVIDIA's device certificates: 9999-12-31T23:59:59Z.
pub const NOT_AFTER_9999: i64 = 253_402_300_799;

/// Why a PKI could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the simulated PKI: {0}")]
pub struct PkiError(String);

impl From<x509::X509Error> for PkiError {
    fn from(e: x509::X509Error) -> Self {
        PkiError(e.to_string())
    }
}

/// A key with its certificate.
#[derive(Clone, Debug)]
pub struct KeyCert {
    /// The P-384 signing key.
    pub key: SigningKey,
    /// The certificate, DER.
    pub cert: Vec<u8>,
}

impl KeyCert {
    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        x509::to_pem("CERTIFICATE", &self.cert)
    }

    /// The private key as PKCS#8 PEM (simulated keys only).
    pub fn key_pem(&self) -> String {
        use p384::pkcs8::EncodePrivateKey;
        self.key
            .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
            .map(|s| s.to_string())
            .unwrap_or_default()
    }
}

/// A P-384 key from a named seeded stream.
pub fn key(name: &str, seed: u64) -> SigningKey {
    let mut rng = sim_core::rng::seeded(name, seed);
    SigningKey::random(&mut rng)
}

fn spki_der(k: &SigningKey) -> Result<Vec<u8>, PkiError> {
    k.verifying_key()
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| PkiError(e.to_string()))
}

fn key_id(k: &SigningKey) -> Result<Vec<u8>, PkiError> {
    let spki = spki::SubjectPublicKeyInfoOwned::try_from(spki_der(k)?.as_slice())
        .map_err(|e| PkiError(e.to_string()))?;
    Ok(x509::key_identifier(&spki))
}

/// Signs a TBS with ECDSA P-384/SHA-384, DER `Ecdsa-Sig-Value`.
pub fn sign_der(k: &SigningKey, tbs: &[u8]) -> Vec<u8> {
    use signature::Signer;
    let s: p384::ecdsa::Signature = k.sign(tbs);
    s.to_der().as_bytes().to_vec()
}

/// A positive serial number of `n` bytes from a named stream.
fn serial(name: &str, seed: u64, n: usize) -> Vec<u8> {
    use rand_core::RngCore;
    let mut v = vec![0u8; n];
    sim_core::rng::seeded(name, seed).fill_bytes(&mut v);
    if let Some(b) = v.first_mut() {
        *b = (*b & 0x7f) | 0x40;
    }
    v
}

struct Issue<'a> {
    subject: x509_cert::name::Name,
    subject_key: &'a SigningKey,
    issuer: Option<(&'a x509_cert::name::Name, &'a SigningKey)>,
    serial: Vec<u8>,
    not_before: i64,
    not_after: i64,
    extensions: Vec<x509_cert::ext::Extension>,
}

fn issue(i: Issue<'_>) -> Result<Vec<u8>, PkiError> {
    let (issuer_name, issuer_key) = i.issuer.unwrap_or((&i.subject, i.subject_key));
    let mut exts = i.extensions;
    exts.push(x509::ext(
        oids::SKI,
        false,
        x509::ski_value(&key_id(i.subject_key)?)?,
    )?);
    exts.push(x509::ext(
        oids::AKI,
        false,
        x509::aki_value(&key_id(issuer_key)?)?,
    )?);
    let spec = CertSpec {
        serial: i.serial,
        issuer: issuer_name.clone(),
        subject: i.subject,
        not_before: i.not_before,
        not_after: i.not_after,
        spki_der: spki_der(i.subject_key)?,
        extensions: exts,
        sig_alg: x509::alg_ecdsa_sha384(),
    };
    Ok(x509::build_cert(&spec, |tbs| sign_der(issuer_key, tbs))?)
}

fn ca_exts(crl: Option<&str>) -> Result<Vec<x509_cert::ext::Extension>, PkiError> {
    let mut v = vec![
        x509::ext(
            oids::BASIC_CONSTRAINTS,
            true,
            x509::basic_constraints(true, None)?,
        )?,
        x509::ext(oids::KEY_USAGE, true, x509::key_usage(&[5, 6])?)?,
    ];
    if let Some(url) = crl {
        // CRLDistributionPoints { DistributionPoint { [0] fullName { [0] { [6] URI } } } }
        let uri = x509::tlv(0x86, url.as_bytes());
        let dp = x509::tlv(0x30, &x509::tlv(0xa0, &x509::tlv(0xa0, &uri)));
        v.push(x509::ext(oids::CRL_DP, false, x509::tlv(0x30, &dp))?);
        // AuthorityInfoAccess { id-ad-ocsp, [6] URI }
        let ocsp_oid = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1")
            .to_der()
            .map_err(|e| PkiError(e.to_string()))?;
        let mut ad = ocsp_oid;
        ad.extend(x509::tlv(0x86, b"http://localhost/cvmsim/ocsp"));
        v.push(x509::ext(
            oids::AIA,
            false,
            x509::tlv(0x30, &x509::tlv(0x30, &ad)),
        )?);
    }
    Ok(v)
}

fn ca_name(cn: &str, org: &str, country: bool) -> Result<x509_cert::name::Name, PkiError> {
    let mut a = vec![
        (oids::CN, Str::Utf8, cn),
        (oids::O, Str::Utf8, org),
        (oids::OU, Str::Utf8, SIMULATED_OU),
    ];
    if country {
        a.push((oids::C, Str::Printable, "US"));
    }
    Ok(x509::name(&a)?)
}

/// The device CA levels: L1 root "NVIDIA Device Identity CA", L2 "NVIDIA GH100 Identity",
/// L3 "NVIDIA GH100 Provisioner ICA 1" (all simulated).
#[derive(Clone, Debug)]
pub struct DeviceCas {
    /// L1 root.
    pub l1: KeyCert,
    /// L2.
    pub l2: KeyCert,
    /// L3 (issues the per-device IK).
    pub l3: KeyCert,
}

impl DeviceCas {
    /// The fixed simulated device CAs.
    pub fn new() -> Result<Self, PkiError> {
        let t0 = sim_core::time::ISSUE_EPOCH;
        let k1 = key("gpu/pki/device-l1", 0);
        let k2 = key("gpu/pki/device-l2", 0);
        let k3 = key("gpu/pki/device-l3", 0);
        let n1 = ca_name("NVIDIA Device Identity CA", "NVIDIA", false)?;
        let n2 = ca_name("NVIDIA GH100 Identity", "NVIDIA Corporation", false)?;
        let n3 = ca_name("NVIDIA GH100 Provisioner ICA 1", "NVIDIA Corporation", true)?;
        let c1 = issue(Issue {
            subject: n1.clone(),
            subject_key: &k1,
            issuer: None,
            serial: serial("gpu/pki/device-l1/serial", 0, 16),
            not_before: t0,
            not_after: NOT_AFTER_9999,
            extensions: ca_exts(None)?,
        })?;
        let c2 = issue(Issue {
            subject: n2.clone(),
            subject_key: &k2,
            issuer: Some((&n1, &k1)),
            serial: serial("gpu/pki/device-l2/serial", 0, 16),
            not_before: t0,
            not_after: NOT_AFTER_9999,
            extensions: ca_exts(Some("http://localhost/cvmsim/crl/l1-root.crl"))?,
        })?;
        let c3 = issue(Issue {
            subject: n3,
            subject_key: &k3,
            issuer: Some((&n2, &k2)),
            serial: serial("gpu/pki/device-l3/serial", 0, 16),
            not_before: t0,
            not_after: NOT_AFTER_9999,
            extensions: ca_exts(Some("http://localhost/cvmsim/crl/l2-gh100.crl"))?,
        })?;
        Ok(DeviceCas {
            l1: KeyCert { key: k1, cert: c1 },
            l2: KeyCert { key: k2, cert: c2 },
            l3: KeyCert { key: k3, cert: c3 },
        })
    }
}

/// A device's identity: IK (DeviceID, "GH100 A01 GSP BROM") and AK ("GH100 A01 GSP FMC LF").
#[derive(Clone, Debug)]
pub struct DeviceIdentity {
    /// Identity key (CA, issued by L3).
    pub ik: KeyCert,
    /// Attestation key (leaf, issued by IK, carries the FWID extension).
    pub ak: KeyCert,
    /// The 8-byte device id in the SAN (`NVIDIA:GH100:<16 hex>`).
    pub device_id: [u8; 8],
}

fn subject_name(serial_attr: &str, cn: &str) -> Result<x509_cert::name::Name, PkiError> {
    Ok(x509::name(&[
        (oids::SERIAL_NUMBER, Str::Printable, serial_attr),
        (oids::C, Str::Printable, "US"),
        (oids::O, Str::Utf8, "NVIDIA Corporation"),
        (oids::CN, Str::Utf8, cn),
    ])?)
}

/// DER of the AK's 2.23.133.5.4.1 value:
/// `SEQUENCE { INTEGER 1, SubjectPublicKeyInfo(IK), SEQUENCE { OID sha384, OCTET STRING fwid } }`.
pub fn fwid_ext_value(ik_spki_der: &[u8], fwid: &[u8; 48]) -> Vec<u8> {
    let mut alg = x509::tlv(
        0x06,
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
    );
    alg.extend(x509::tlv(0x04, fwid));
    let mut body = x509::der_uint(1);
    body.extend_from_slice(ik_spki_der);
    body.extend(x509::tlv(0x30, &alg));
    x509::tlv(0x30, &body)
}

impl DeviceIdentity {
    /// The identity of the device with this seed; `fwid` goes in the AK's extension.
    pub fn new(cas: &DeviceCas, seed: u64, fwid: &[u8; 48]) -> Result<Self, PkiError> {
        let t0 = sim_core::time::ISSUE_EPOCH;
        let ik_key = key("gpu/device/ik", seed);
        let ak_key = key("gpu/device/ak", seed);
        let device_id = sim_core::rng::bytes::<8>("gpu/device/id", seed);
        let ik_serial = serial("gpu/device/ik/serial", seed, 9);
        let ak_serial = serial("gpu/device/ak/serial", seed, 20);
        let l3_name = <x509_cert::Certificate as der::Decode>::from_der(&cas.l3.cert)
            .map_err(|e| PkiError(e.to_string()))?
            .tbs_certificate
            .subject;
        let ik_name = subject_name(&hex::encode_upper(&ik_serial), "GH100 A01 GSP BROM")?;
        let ik = issue(Issue {
            subject: ik_name.clone(),
            subject_key: &ik_key,
            issuer: Some((&l3_name, &cas.l3.key)),
            serial: ik_serial,
            not_before: t0,
            not_after: NOT_AFTER_9999,
            extensions: vec![
                x509::ext(
                    oids::BASIC_CONSTRAINTS,
                    true,
                    x509::basic_constraints(true, None)?,
                )?,
                x509::ext(oids::KEY_USAGE, true, x509::key_usage(&[5])?)?,
            ],
        })?;
        // SAN: otherName { 1.3.6.1.4.1.412.274.1, [0] UTF8String "NVIDIA:GH100:<id>" }
        let id = format!("NVIDIA:GH100:{}", hex::encode_upper(device_id));
        let oid = NVIDIA_DEVICE_ID
            .to_der()
            .map_err(|e| PkiError(e.to_string()))?;
        let mut other = oid;
        other.extend(x509::tlv(0xa0, &x509::tlv(0x0c, id.as_bytes())));
        let san = x509::tlv(0x30, &x509::tlv(0xa0, &other));
        let ak = issue(Issue {
            subject: subject_name(&hex::encode_upper(&ak_serial), "GH100 A01 GSP FMC LF")?,
            subject_key: &ak_key,
            issuer: Some((&ik_name, &ik_key)),
            serial: ak_serial,
            not_before: t0,
            not_after: NOT_AFTER_9999,
            extensions: vec![
                x509::ext(oids::KEY_USAGE, true, x509::key_usage(&[0])?)?,
                x509::ext(oids::SAN, false, san)?,
                x509::ext(FWID_EXT, false, fwid_ext_value(&spki_der(&ik_key)?, fwid))?,
            ],
        })?;
        Ok(DeviceIdentity {
            ik: KeyCert {
                key: ik_key,
                cert: ik,
            },
            ak: KeyCert {
                key: ak_key,
                cert: ak,
            },
            device_id,
        })
    }
}

/// The RIM signing PKI: root "NVIDIA CoRIM signing Root CA" → "NVIDIA Reference Value GH100 CA" →
/// "NVIDIA Reference Value L3 GH100 001" → "HCC RIM L4 Signer" (all simulated).
#[derive(Clone, Debug)]
pub struct RimPki {
    /// Root.
    pub root: KeyCert,
    /// Level 2 CA.
    pub ca: KeyCert,
    /// Level 3 CA.
    pub l3: KeyCert,
    /// The signer (digitalSignature).
    pub signer: KeyCert,
}

impl RimPki {
    /// The fixed simulated RIM PKI. The signer is valid for 25 years from the issue epoch.
    pub fn new() -> Result<Self, PkiError> {
        let t0 = sim_core::time::ISSUE_EPOCH;
        let t_end = t0 + 25 * 365 * 86_400;
        let kr = key("gpu/pki/rim-root", 0);
        let kc = key("gpu/pki/rim-ca", 0);
        let k3 = key("gpu/pki/rim-l3", 0);
        let ks = key("gpu/pki/rim-signer", 0);
        let nr = ca_name("NVIDIA CoRIM signing Root CA", "NVIDIA Corporation", true)?;
        let nc = ca_name(
            "NVIDIA Reference Value GH100 CA",
            "NVIDIA Corporation",
            true,
        )?;
        let n3 = ca_name(
            "NVIDIA Reference Value L3 GH100 001",
            "NVIDIA Corporation",
            true,
        )?;
        let ns = x509::name(&[
            (oids::C, Str::Printable, "US"),
            (oids::ST, Str::Utf8, "CA"),
            (oids::L, Str::Utf8, "Santa Clara"),
            (oids::O, Str::Utf8, "NVIDIA Corporation"),
            (oids::OU, Str::Utf8, SIMULATED_OU),
            (oids::CN, Str::Utf8, "HCC RIM L4 Signer"),
        ])?;
        let cr = issue(Issue {
            subject: nr.clone(),
            subject_key: &kr,
            issuer: None,
            serial: serial("gpu/pki/rim-root/serial", 0, 16),
            not_before: t0,
            not_after: t_end,
            extensions: ca_exts(None)?,
        })?;
        let cc = issue(Issue {
            subject: nc.clone(),
            subject_key: &kc,
            issuer: Some((&nr, &kr)),
            serial: serial("gpu/pki/rim-ca/serial", 0, 16),
            not_before: t0,
            not_after: t_end,
            extensions: ca_exts(None)?,
        })?;
        let c3 = issue(Issue {
            subject: n3.clone(),
            subject_key: &k3,
            issuer: Some((&nc, &kc)),
            serial: serial("gpu/pki/rim-l3/serial", 0, 16),
            not_before: t0,
            not_after: t_end,
            extensions: ca_exts(None)?,
        })?;
        let cs = issue(Issue {
            subject: ns,
            subject_key: &ks,
            issuer: Some((&n3, &k3)),
            serial: serial("gpu/pki/rim-signer/serial", 0, 20),
            not_before: t0,
            not_after: t_end,
            extensions: vec![
                x509::ext(
                    oids::BASIC_CONSTRAINTS,
                    true,
                    x509::basic_constraints(false, None)?,
                )?,
                x509::ext(oids::KEY_USAGE, true, x509::key_usage(&[0])?)?,
            ],
        })?;
        Ok(RimPki {
            root: KeyCert { key: kr, cert: cr },
            ca: KeyCert { key: kc, cert: cc },
            l3: KeyCert { key: k3, cert: c3 },
            signer: KeyCert { key: ks, cert: cs },
        })
    }

    /// The KeyInfo certificates, signer first, root last (as NVIDIA's RIMs carry them).
    pub fn key_info(&self) -> Vec<Vec<u8>> {
        vec![
            self.signer.cert.clone(),
            self.l3.cert.clone(),
            self.ca.cert.clone(),
            self.root.cert.clone(),
        ]
    }
}
