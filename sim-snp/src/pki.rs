//! The simulated AMD PKI, shaped like what AMD's KDS serves (snp.md §2.1-§2.3):
//!
//! ```text
//! ARK-<Product> (self-signed RSA-4096, RSASSA-PSS SHA-384 salt 48)
//!  ├─ SEV-<Product> = ASK (RSA-4096)        └─ SEV-VCEK (P-384, serial 0, AMD extensions only)
//!  └─ SEV-VLEK-<Product> = ASVK (RSA-4096)  └─ SEV-VLEK (P-384, serial 0, csp_id)
//! ```
//!
//! Names, serials, extensions (and their order), the RSASSA-PSS parameter encoding and validity periods
//! follow the real certificates. The vendor keys are committed test keys (`vectors/keys/snp/`, made by
//! `examples/gen_vendor_keys.rs`); the roots say in their subject (a `description` attribute after the
//! CN) that they are simulated, so nothing here verifies under AMD's real roots.
//!
//! Validity: ARK/ASK/ASVK from 2024-01-01 for 25 years; a VCEK/VLEK from its issue time (default
//! [`sim_core::time::ISSUE_EPOCH`]) for 7 years, as the KDS issues them; CRLs from their issue time
//! with a next update 10 years later (so that CRLs issued at the epoch stay current for CI).

use std::sync::OnceLock;

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use p384::pkcs8::EncodePublicKey;
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};
use sim_core::x509::{self, oids, CertSpec, CrlSpec, Revoked, Str, X509Error};

use crate::layout::TcbVersion;
use crate::product::Product;

/// A certificate role in the AMD PKI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// AMD Root Key.
    Ark,
    /// AMD SEV Key (signs VCEKs).
    Ask,
    /// AMD SEV VLEK Key (signs VLEKs).
    Asvk,
}

impl Role {
    /// File stem of the committed key.
    pub fn file_stem(self) -> &'static str {
        match self {
            Role::Ark => "ark",
            Role::Ask => "ask",
            Role::Asvk => "asvk",
        }
    }

    /// The certificate CN for `product`.
    pub fn common_name(self, product: Product) -> String {
        match self {
            Role::Ark => format!("ARK-{}", product.name()),
            Role::Ask => format!("SEV-{}", product.name()),
            Role::Asvk => format!("SEV-VLEK-{}", product.name()),
        }
    }
}

/// Which endorsement key a certificate or CRL belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endorsement {
    /// VCEK (under the ASK; KDS path `/vcek/v1/`).
    Vcek,
    /// VLEK (under the ASVK; KDS path `/vlek/v1/`).
    Vlek,
}

/// AMD's private-enterprise OID arc for SEV certificates, 1.3.6.1.4.1.3704.1.
pub mod amd_oids {
    use const_oid::ObjectIdentifier;
    /// structVersion.
    pub const STRUCT_VERSION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.1");
    /// productName.
    pub const PRODUCT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
    /// blSPL.
    pub const BL_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
    /// teeSPL.
    pub const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
    /// snpSPL.
    pub const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
    /// spl_4 (reserved).
    pub const SPL_4: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.4");
    /// spl_5 (reserved).
    pub const SPL_5: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.5");
    /// spl_6 (reserved).
    pub const SPL_6: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.6");
    /// spl_7 (reserved).
    pub const SPL_7: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.7");
    /// ucodeSPL.
    pub const UCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
    /// fmcSPL (Turin).
    pub const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
    /// hwID (raw bytes, no ASN.1 tag).
    pub const HWID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
    /// csp_id (VLEK).
    pub const CSP_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.5");
}

/// description (2.5.4.13), used to mark simulated roots.
pub const DESCRIPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.13");
/// The marker written into every simulated AMD CA subject.
pub const SIMULATED_MARK: &str = "cvmsim SIMULATED key, not issued by AMD";

/// Not-before of the simulated ARK/ASK/ASVK: 2024-01-01T00:00:00Z.
pub const CA_NOT_BEFORE: i64 = 1_704_067_200;
/// `secs` plus `years` calendar years (same day and time), as the KDS dates its certificates.
pub fn plus_years(secs: i64, years: i32) -> i64 {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.replace_year(t.year() + years).ok().or_else(|| {
                t.replace_day(28)
                    .ok()
                    .and_then(|t| t.replace_year(t.year() + years).ok())
            })
        })
        .map(|t| t.unix_timestamp())
        .unwrap_or(secs + i64::from(years) * 31_556_952)
}

/// The committed RSA-4096 key of a vendor role.
fn vendor_key_pem(product: Product, role: Role) -> &'static str {
    match (product, role) {
        (Product::Milan, Role::Ark) => include_str!("../../vectors/keys/snp/milan-ark.pem"),
        (Product::Milan, Role::Ask) => include_str!("../../vectors/keys/snp/milan-ask.pem"),
        (Product::Milan, Role::Asvk) => include_str!("../../vectors/keys/snp/milan-asvk.pem"),
        (Product::Genoa, Role::Ark) => include_str!("../../vectors/keys/snp/genoa-ark.pem"),
        (Product::Genoa, Role::Ask) => include_str!("../../vectors/keys/snp/genoa-ask.pem"),
        (Product::Genoa, Role::Asvk) => include_str!("../../vectors/keys/snp/genoa-asvk.pem"),
        (Product::Turin, Role::Ark) => include_str!("../../vectors/keys/snp/turin-ark.pem"),
        (Product::Turin, Role::Ask) => include_str!("../../vectors/keys/snp/turin-ask.pem"),
        (Product::Turin, Role::Asvk) => include_str!("../../vectors/keys/snp/turin-asvk.pem"),
    }
}

/// The AMD certificate authorities of one product: keys and certificates, built once.
pub struct VendorCa {
    /// The product.
    pub product: Product,
    /// ARK private key.
    pub ark_key: rsa::RsaPrivateKey,
    /// ASK private key.
    pub ask_key: rsa::RsaPrivateKey,
    /// ASVK private key.
    pub asvk_key: rsa::RsaPrivateKey,
    /// ARK certificate, DER.
    pub ark: Vec<u8>,
    /// ASK certificate, DER.
    pub ask: Vec<u8>,
    /// ASVK certificate, DER.
    pub asvk: Vec<u8>,
}

impl std::fmt::Debug for VendorCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorCa")
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

/// The simulated AMD CAs of `product` (built on first use, then cached).
pub fn vendor(product: Product) -> &'static VendorCa {
    static CAS: [OnceLock<VendorCa>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let idx = match product {
        Product::Milan => 0,
        Product::Genoa => 1,
        Product::Turin => 2,
    };
    CAS[idx].get_or_init(|| {
        build_vendor(product)
            .expect("the committed vendor keys and fixed CA certificates are valid")
    })
}

fn load_key(product: Product, role: Role) -> Result<rsa::RsaPrivateKey, X509Error> {
    rsa::RsaPrivateKey::from_pkcs8_pem(vendor_key_pem(product, role))
        .map_err(|e| X509Error::BadKey(e.to_string()))
}

/// AMD's DN: `OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=<cn>`, plus the
/// simulation marker on CA names.
pub fn amd_name(cn: &str, simulated_mark: bool) -> Result<x509_cert::name::Name, X509Error> {
    let mut attrs = vec![
        (oids::OU, Str::Utf8, "Engineering"),
        (oids::C, Str::Printable, "US"),
        (oids::L, Str::Utf8, "Santa Clara"),
        (oids::ST, Str::Utf8, "CA"),
        (oids::O, Str::Utf8, "Advanced Micro Devices"),
        (oids::CN, Str::Utf8, cn),
    ];
    if simulated_mark {
        attrs.push((DESCRIPTION, Str::Utf8, SIMULATED_MARK));
    }
    x509::name(&attrs)
}

fn rsa_spki_der(key: &rsa::RsaPrivateKey) -> Result<Vec<u8>, X509Error> {
    use rsa::pkcs8::EncodePublicKey as _;
    key.to_public_key()
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| X509Error::BadKey(e.to_string()))
}

/// Signs `tbs` with RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48); the salt comes from a ChaCha20 stream
/// keyed by the message, so the same TBS gives the same signature.
pub fn pss_sign(key: &rsa::RsaPrivateKey, tbs: &[u8]) -> Vec<u8> {
    use rsa::signature::{RandomizedSigner, SignatureEncoding};
    let label = format!("snp-pss-salt/{}", hex::encode(&Sha256::digest(tbs)[..16]));
    let mut rng = sim_core::rng::seeded(&label, 0);
    let sk = rsa::pss::SigningKey::<sha2::Sha384>::new_with_salt_len(key.clone(), 48);
    sk.sign_with_rng(&mut rng, tbs).to_vec()
}

fn crl_dp(product: Product, e: Endorsement) -> Vec<u8> {
    let url = format!(
        "https://kdsintf.amd.com/{}/v1/{}/crl",
        e.path(),
        product.name()
    );
    let uri = x509::tlv(0x86, url.as_bytes());
    let full_name = x509::tlv(0xa0, &uri);
    let dpn = x509::tlv(0xa0, &full_name);
    let dp = x509::tlv(0x30, &dpn);
    x509::tlv(0x30, &dp)
}

impl Endorsement {
    /// KDS path component: `vcek` or `vlek`.
    pub fn path(self) -> &'static str {
        match self {
            Endorsement::Vcek => "vcek",
            Endorsement::Vlek => "vlek",
        }
    }
}

fn build_vendor(product: Product) -> Result<VendorCa, X509Error> {
    let ark_key = load_key(product, Role::Ark)?;
    let ask_key = load_key(product, Role::Ask)?;
    let asvk_key = load_key(product, Role::Asvk)?;
    let (ark_serial, ask_serial, asvk_serial) = product.ca_serials();
    let ark_name = amd_name(&Role::Ark.common_name(product), true)?;
    let ark_spki = rsa_spki_der(&ark_key)?;
    let ark_ski = x509::key_identifier(&spki::SubjectPublicKeyInfoOwned::from_der(&ark_spki)?);
    let not_after = plus_years(CA_NOT_BEFORE, 25);
    let ark = x509::build_cert(
        &CertSpec {
            serial: ark_serial.to_be_bytes().to_vec(),
            issuer: ark_name.clone(),
            subject: ark_name.clone(),
            not_before: CA_NOT_BEFORE,
            not_after,
            spki_der: ark_spki,
            extensions: vec![
                x509::ext(oids::KEY_USAGE, true, x509::key_usage(&[5, 6])?)?,
                x509::ext(oids::SKI, false, x509::ski_value(&ark_ski)?)?,
                x509::ext(
                    oids::BASIC_CONSTRAINTS,
                    true,
                    x509::basic_constraints(true, None)?,
                )?,
                x509::ext(oids::CRL_DP, false, crl_dp(product, Endorsement::Vcek))?,
            ],
            sig_alg: x509::alg_rsa_pss_sha384(),
        },
        |tbs| pss_sign(&ark_key, tbs),
    )?;
    let sub_ca = |key: &rsa::RsaPrivateKey,
                  role: Role,
                  serial: u32,
                  e: Endorsement|
     -> Result<Vec<u8>, X509Error> {
        let spki_der = rsa_spki_der(key)?;
        let ski = x509::key_identifier(&spki::SubjectPublicKeyInfoOwned::from_der(&spki_der)?);
        x509::build_cert(
            &CertSpec {
                serial: serial.to_be_bytes().to_vec(),
                issuer: ark_name.clone(),
                subject: amd_name(&role.common_name(product), true)?,
                not_before: CA_NOT_BEFORE,
                not_after,
                spki_der,
                extensions: vec![
                    x509::ext(oids::SKI, false, x509::ski_value(&ski)?)?,
                    x509::ext(oids::AKI, false, x509::aki_value(&ark_ski)?)?,
                    x509::ext(
                        oids::BASIC_CONSTRAINTS,
                        true,
                        x509::basic_constraints(true, Some(0))?,
                    )?,
                    x509::ext(oids::KEY_USAGE, true, x509::key_usage(&[5])?)?,
                    x509::ext(oids::CRL_DP, false, crl_dp(product, e))?,
                ],
                sig_alg: x509::alg_rsa_pss_sha384(),
            },
            |tbs| pss_sign(&ark_key, tbs),
        )
    };
    let ask = sub_ca(&ask_key, Role::Ask, ask_serial, Endorsement::Vcek)?;
    let asvk = sub_ca(&asvk_key, Role::Asvk, asvk_serial, Endorsement::Vlek)?;
    Ok(VendorCa {
        product,
        ark_key,
        ask_key,
        asvk_key,
        ark,
        ask,
        asvk,
    })
}

impl VendorCa {
    /// `cert_chain` as the KDS serves it (PEM, ASK or ASVK first, then ARK).
    pub fn cert_chain_pem(&self, e: Endorsement) -> String {
        let sub = match e {
            Endorsement::Vcek => &self.ask,
            Endorsement::Vlek => &self.asvk,
        };
        format!(
            "{}{}",
            x509::to_pem("CERTIFICATE", sub),
            x509::to_pem("CERTIFICATE", &self.ark)
        )
    }

    /// The ARK-signed CRL of the `/vcek` or `/vlek` path, listing `revoked` serials (ASK/ASVK).
    pub fn crl(
        &self,
        e: Endorsement,
        revoked: &[u32],
        this_update: i64,
    ) -> Result<Vec<u8>, X509Error> {
        let ark_cert = x509_cert::Certificate::from_der(&self.ark)?;
        let ski = x509::key_identifier(&ark_cert.tbs_certificate.subject_public_key_info);
        let _ = e;
        x509::build_crl(
            &CrlSpec {
                issuer: ark_cert.tbs_certificate.subject.clone(),
                this_update,
                next_update: plus_years(this_update, 10),
                revoked: revoked
                    .iter()
                    .map(|s| Revoked {
                        serial: s.to_be_bytes().to_vec(),
                        date: this_update,
                    })
                    .collect(),
                extensions: vec![
                    x509::ext(oids::AKI, false, x509::aki_value(&ski)?)?,
                    x509::ext(oids::CRL_NUMBER, false, x509::der_uint(1))?,
                ],
                sig_alg: x509::alg_rsa_pss_sha384(),
            },
            |tbs| pss_sign(&self.ark_key, tbs),
        )
    }
}

/// The AMD extensions of a VCEK or VLEK, in the order the real KDS writes them (snp.md §2.2):
/// Milan/Genoa `.1 .2 .3.1 .3.2 .3.4 .3.5 .3.6 .3.7 .3.3 .3.8 .4`; Turin `.1 .2 .3.9 .3.1 .3.2 .3.3 .3.5
/// .3.6 .3.7 .3.8 .4`. VLEKs carry `.5 csp_id` in place of `.4 hwID`.
pub fn vek_extensions(
    product: Product,
    tcb: &TcbVersion,
    hwid: Option<&[u8]>,
    csp_id: Option<&str>,
) -> Result<Vec<x509_cert::ext::Extension>, X509Error> {
    use amd_oids::*;
    let int = |oid, v: u8| x509::ext(oid, false, x509::der_uint(u64::from(v)));
    let mut exts = vec![
        x509::ext(
            STRUCT_VERSION,
            false,
            x509::der_uint(u64::from(product.vcek_struct_version())),
        )?,
        x509::ext(
            PRODUCT_NAME,
            false,
            der::asn1::Ia5StringRef::new(product.vcek_product_name())?.to_der()?,
        )?,
    ];
    match product {
        Product::Milan | Product::Genoa => {
            exts.push(int(BL_SPL, tcb.bootloader)?);
            exts.push(int(TEE_SPL, tcb.tee)?);
            exts.push(int(SPL_4, 0)?);
            exts.push(int(SPL_5, 0)?);
            exts.push(int(SPL_6, 0)?);
            exts.push(int(SPL_7, 0)?);
            exts.push(int(SNP_SPL, tcb.snp)?);
            exts.push(int(UCODE_SPL, tcb.microcode)?);
        }
        Product::Turin => {
            exts.push(int(FMC_SPL, tcb.fmc.unwrap_or(0))?);
            exts.push(int(BL_SPL, tcb.bootloader)?);
            exts.push(int(TEE_SPL, tcb.tee)?);
            exts.push(int(SNP_SPL, tcb.snp)?);
            exts.push(int(SPL_5, 0)?);
            exts.push(int(SPL_6, 0)?);
            exts.push(int(SPL_7, 0)?);
            exts.push(int(UCODE_SPL, tcb.microcode)?);
        }
    }
    if let Some(h) = hwid {
        exts.push(x509::ext(HWID, false, h.to_vec())?);
    }
    if let Some(c) = csp_id {
        exts.push(x509::ext(
            CSP_ID,
            false,
            der::asn1::Ia5StringRef::new(c)?.to_der()?,
        )?);
    }
    Ok(exts)
}

/// Issues a VCEK certificate (serial 0, signed by the ASK) for `chip_id` at `tcb`, as the KDS does.
pub fn issue_vcek(
    product: Product,
    chip_id: &[u8; 64],
    tcb: &TcbVersion,
    key: &p384::PublicKey,
    issued_at: i64,
) -> Result<Vec<u8>, X509Error> {
    let hwid = &chip_id[..product.hwid_len()];
    issue_vek(
        product,
        Endorsement::Vcek,
        vek_extensions(product, tcb, Some(hwid), None)?,
        key,
        issued_at,
    )
}

/// Issues a VLEK certificate (serial 0, signed by the ASVK) for a cloud provider `csp_id` at `tcb`.
pub fn issue_vlek(
    product: Product,
    csp_id: &str,
    tcb: &TcbVersion,
    key: &p384::PublicKey,
    issued_at: i64,
) -> Result<Vec<u8>, X509Error> {
    issue_vek(
        product,
        Endorsement::Vlek,
        vek_extensions(product, tcb, None, Some(csp_id))?,
        key,
        issued_at,
    )
}

/// A VCEK (under the ASK) or VLEK (under the ASVK): serial 0, AMD's DN, 7 years, AMD's extensions only.
fn issue_vek(
    product: Product,
    e: Endorsement,
    extensions: Vec<x509_cert::ext::Extension>,
    key: &p384::PublicKey,
    issued_at: i64,
) -> Result<Vec<u8>, X509Error> {
    let ca = vendor(product);
    let (issuer_der, issuer_key, cn) = match e {
        Endorsement::Vcek => (&ca.ask, &ca.ask_key, "SEV-VCEK"),
        Endorsement::Vlek => (&ca.asvk, &ca.asvk_key, "SEV-VLEK"),
    };
    let issuer = x509_cert::Certificate::from_der(issuer_der)?;
    let spki_der = key
        .to_public_key_der()
        .map_err(|e| X509Error::BadKey(e.to_string()))?
        .as_bytes()
        .to_vec();
    x509::build_cert(
        &CertSpec {
            serial: vec![0],
            issuer: issuer.tbs_certificate.subject.clone(),
            subject: amd_name(cn, false)?,
            not_before: issued_at,
            not_after: plus_years(issued_at, 7),
            spki_der,
            extensions,
            sig_alg: x509::alg_rsa_pss_sha384(),
        },
        |tbs| pss_sign(issuer_key, tbs),
    )
}

/// What a VCEK/VLEK certificate says in AMD's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VekExtensions {
    /// structVersion.
    pub struct_version: Option<u64>,
    /// productName.
    pub product_name: Option<String>,
    /// The TCB (fmc present when fmcSPL is).
    pub tcb: TcbVersion,
    /// hwID raw bytes.
    pub hwid: Option<Vec<u8>>,
    /// csp_id.
    pub csp_id: Option<String>,
    /// Extensions that are present but could not be decoded, with the reason.
    pub errors: Vec<String>,
}

fn der_uint_value(bytes: &[u8]) -> Result<u64, String> {
    let i = der::asn1::Int::from_der(bytes).map_err(|e| e.to_string())?;
    let b = i.as_bytes();
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        return Err("negative INTEGER".into());
    }
    if b.len() > 9 || (b.len() == 9 && b[0] != 0) {
        return Err("INTEGER too large".into());
    }
    Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
}

/// Reads AMD's extensions from a VCEK/VLEK certificate.
pub fn read_vek_extensions(cert: &x509_cert::Certificate) -> VekExtensions {
    use amd_oids::*;
    let mut out = VekExtensions {
        struct_version: None,
        product_name: None,
        tcb: TcbVersion::default(),
        hwid: None,
        csp_id: None,
        errors: vec![],
    };
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return out;
    };
    for e in exts {
        let v = e.extn_value.as_bytes();
        let mut spl = |name: &str| -> Option<u8> {
            match der_uint_value(v).and_then(|x| u8::try_from(x).map_err(|_| format!("{x} > 255")))
            {
                Ok(x) => Some(x),
                Err(err) => {
                    out.errors.push(format!("{name}: {err}"));
                    None
                }
            }
        };
        match e.extn_id {
            o if o == STRUCT_VERSION => out.struct_version = spl("structVersion").map(u64::from),
            o if o == BL_SPL => out.tcb.bootloader = spl("blSPL").unwrap_or(0),
            o if o == TEE_SPL => out.tcb.tee = spl("teeSPL").unwrap_or(0),
            o if o == SNP_SPL => out.tcb.snp = spl("snpSPL").unwrap_or(0),
            o if o == UCODE_SPL => out.tcb.microcode = spl("ucodeSPL").unwrap_or(0),
            o if o == FMC_SPL => out.tcb.fmc = spl("fmcSPL"),
            o if o == PRODUCT_NAME => match der::asn1::Ia5StringRef::from_der(v) {
                Ok(s) => out.product_name = Some(s.as_str().to_string()),
                Err(err) => out.errors.push(format!("productName: {err}")),
            },
            o if o == CSP_ID => match der::asn1::Ia5StringRef::from_der(v) {
                Ok(s) => out.csp_id = Some(s.as_str().to_string()),
                Err(err) => out.errors.push(format!("csp_id: {err}")),
            },
            o if o == HWID => out.hwid = Some(v.to_vec()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_values_are_encoded_like_real_kds_certificates() {
        // Real Milan VCEK (milan_v3_msft): ucodeSPL 219 is `02 02 00 DB`, productName `16 08 Milan-B0`.
        let exts = vek_extensions(
            Product::Milan,
            &TcbVersion::legacy(4, 0, 24, 219),
            Some(&[0xAB; 64]),
            None,
        )
        .unwrap();
        let ucode = exts
            .iter()
            .find(|e| e.extn_id == amd_oids::UCODE_SPL)
            .unwrap();
        assert_eq!(ucode.extn_value.as_bytes(), &[0x02, 0x02, 0x00, 0xDB]);
        let name = exts
            .iter()
            .find(|e| e.extn_id == amd_oids::PRODUCT_NAME)
            .unwrap();
        assert_eq!(name.extn_value.as_bytes(), b"\x16\x08Milan-B0");
        let hwid = exts.iter().find(|e| e.extn_id == amd_oids::HWID).unwrap();
        assert_eq!(hwid.extn_value.as_bytes(), &[0xAB; 64]);
        let order: Vec<String> = exts.iter().map(|e| e.extn_id.to_string()).collect();
        assert_eq!(
            order
                .iter()
                .map(|s| s.trim_start_matches("1.3.6.1.4.1.3704.1."))
                .collect::<Vec<_>>(),
            ["1", "2", "3.1", "3.2", "3.4", "3.5", "3.6", "3.7", "3.3", "3.8", "4"]
        );
        let turin = vek_extensions(
            Product::Turin,
            &TcbVersion::turin(1, 1, 1, 4, 81),
            Some(&[1; 8]),
            None,
        )
        .unwrap();
        let order: Vec<String> = turin.iter().map(|e| e.extn_id.to_string()).collect();
        assert_eq!(
            order
                .iter()
                .map(|s| s.trim_start_matches("1.3.6.1.4.1.3704.1."))
                .collect::<Vec<_>>(),
            ["1", "2", "3.9", "3.1", "3.2", "3.3", "3.5", "3.6", "3.7", "3.8", "4"]
        );
        assert_eq!(turin[0].extn_value.as_bytes(), &[2, 1, 1]);
    }
}
