//! Building blocks for the simulated PKIs: names with chosen string types, validity in the RFC 5280
//! encoding, raw extensions, certificates and CRLs signed by a closure, and signature verification over
//! the raw to-be-signed bytes of any certificate (RSA-PSS, RSA PKCS#1 v1.5, ECDSA P-256/P-384).
//!
//! Verification always hashes the TBS bytes exactly as they appear in the input ([`split_signed`]), never
//! a re-encoding, so real certificates with non-canonical encodings verify as they do in OpenSSL.

use const_oid::ObjectIdentifier;
use der::asn1::{
    BitString, GeneralizedTime, Ia5StringRef, OctetString, PrintableStringRef, UtcTime,
    Utf8StringRef,
};
use der::{Any, Decode, Encode, Header, Reader as _, SliceReader, Tag};
use sha2::{Digest, Sha256, Sha384};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

/// Object identifiers used by more than one PKI.
pub mod oids {
    use const_oid::ObjectIdentifier;
    /// commonName.
    pub const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    /// countryName.
    pub const C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    /// localityName.
    pub const L: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
    /// stateOrProvinceName.
    pub const ST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
    /// organizationName.
    pub const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    /// organizationalUnitName.
    pub const OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
    /// serialNumber (attribute).
    pub const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
    /// id-RSASSA-PSS.
    pub const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
    /// sha256WithRSAEncryption.
    pub const SHA256_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    /// sha384WithRSAEncryption.
    pub const SHA384_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
    /// ecdsa-with-SHA256.
    pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    /// ecdsa-with-SHA384.
    pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    /// id-sha256.
    pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// id-sha384.
    pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    /// rsaEncryption.
    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    /// secp256r1.
    pub const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    /// secp384r1.
    pub const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    /// id-ce-subjectKeyIdentifier.
    pub const SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
    /// id-ce-keyUsage.
    pub const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
    /// id-ce-subjectAltName.
    pub const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
    /// id-ce-basicConstraints.
    pub const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
    /// id-ce-cRLNumber.
    pub const CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
    /// id-ce-cRLDistributionPoints.
    pub const CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
    /// id-ce-authorityKeyIdentifier.
    pub const AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
    /// id-ce-extKeyUsage.
    pub const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
    /// id-pe-authorityInfoAccess.
    pub const AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
}

/// An X.509 error while building or checking a certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    /// DER could not be encoded or decoded.
    #[error("DER: {0}")]
    Der(String),
    /// The signature algorithm is not one this project knows.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The public key could not be used.
    #[error("bad public key: {0}")]
    BadKey(String),
    /// The signature does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
}

impl From<der::Error> for X509Error {
    fn from(e: der::Error) -> Self {
        X509Error::Der(e.to_string())
    }
}

/// The ASN.1 string type of a name attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Str {
    /// UTF8String.
    Utf8,
    /// PrintableString.
    Printable,
    /// IA5String.
    Ia5,
}

/// Encodes a string value of the given ASN.1 type as `Any`.
pub fn string_any(kind: Str, value: &str) -> Result<Any, X509Error> {
    let any = match kind {
        Str::Utf8 => Any::encode_from(&Utf8StringRef::new(value)?)?,
        Str::Printable => Any::encode_from(&PrintableStringRef::new(value)?)?,
        Str::Ia5 => Any::encode_from(&Ia5StringRef::new(value)?)?,
    };
    Ok(any)
}

/// A distinguished name, one attribute per RDN, in the order given.
pub fn name(attrs: &[(ObjectIdentifier, Str, &str)]) -> Result<Name, X509Error> {
    let mut rdns = Vec::new();
    for (oid, kind, value) in attrs {
        let atv = AttributeTypeAndValue {
            oid: *oid,
            value: string_any(*kind, value)?,
        };
        let set = der::asn1::SetOfVec::try_from(vec![atv])?;
        rdns.push(RelativeDistinguishedName(set));
    }
    Ok(RdnSequence(rdns))
}

/// A time in the RFC 5280 encoding: UTCTime before 2050, GeneralizedTime from 2050.
pub fn time(unix_secs: i64) -> Result<Time, X509Error> {
    let secs = u64::try_from(unix_secs)
        .map_err(|_| X509Error::Der(format!("time {unix_secs} before 1970")))?;
    let d = std::time::Duration::from_secs(secs);
    if unix_secs < 2_524_608_000 {
        Ok(Time::UtcTime(UtcTime::from_unix_duration(d)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_unix_duration(d)?))
    }
}

/// Unix seconds of an X.509 time.
pub fn unix(t: &Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// An extension whose value is the given DER (or raw) bytes.
pub fn ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension, X509Error> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value)?,
    })
}

/// DER of an INTEGER holding a non-negative value, minimal form (`02 01 05`, `02 02 00 DB`).
pub fn der_uint(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    let mut content = bytes[first..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    let mut out = vec![0x02, u8::try_from(content.len()).unwrap_or(9)];
    out.extend(content);
    out
}

/// BasicConstraints `cA` with an optional path length, DER.
pub fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Vec<u8>, X509Error> {
    let bc = x509_cert::ext::pkix::BasicConstraints {
        ca,
        path_len_constraint: path_len,
    };
    Ok(bc.to_der()?)
}

/// KeyUsage DER from the bit numbers set (0 digitalSignature ... 5 keyCertSign, 6 cRLSign).
pub fn key_usage(bits: &[u8]) -> Result<Vec<u8>, X509Error> {
    let mut byte0 = 0u8;
    let mut byte1 = 0u8;
    let mut max = 0u8;
    for b in bits {
        max = max.max(*b);
        if *b < 8 {
            byte0 |= 0x80 >> b;
        } else {
            byte1 |= 0x80 >> (b - 8);
        }
    }
    let raw = if max < 8 {
        vec![byte0]
    } else {
        vec![byte0, byte1]
    };
    let total_bits = usize::from(max) + 1;
    let unused = u8::try_from(raw.len() * 8 - total_bits).unwrap_or(0);
    Ok(BitString::new(unused, raw)?.to_der()?)
}

/// SubjectKeyIdentifier: SHA-1-free choice, the first 20 bytes of SHA-256 of the subject public key bits.
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let d = Sha256::digest(spki.subject_public_key.raw_bytes());
    d[..20].to_vec()
}

/// SKI extension value (OCTET STRING of the key identifier).
pub fn ski_value(id: &[u8]) -> Result<Vec<u8>, X509Error> {
    Ok(OctetString::new(id.to_vec())?.to_der()?)
}

/// AKI extension value with only keyIdentifier `[0]`.
pub fn aki_value(id: &[u8]) -> Result<Vec<u8>, X509Error> {
    let mut inner = vec![
        0x80,
        u8::try_from(id.len()).map_err(|_| X509Error::Der("AKI too long".into()))?,
    ];
    inner.extend_from_slice(id);
    Ok(tlv(0x30, &inner))
}

/// A DER TLV with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(u8::try_from(n).unwrap_or(0));
    } else if n < 0x100 {
        out.extend([0x81, u8::try_from(n).unwrap_or(0)]);
    } else if n < 0x10000 {
        out.extend([
            0x82,
            u8::try_from(n >> 8).unwrap_or(0),
            u8::try_from(n & 0xff).unwrap_or(0),
        ]);
    } else {
        out.extend([
            0x83,
            u8::try_from(n >> 16).unwrap_or(0),
            u8::try_from((n >> 8) & 0xff).unwrap_or(0),
            u8::try_from(n & 0xff).unwrap_or(0),
        ]);
    }
    out.extend_from_slice(content);
    out
}

/// The RSASSA-PSS SHA-384 / MGF1-SHA-384 / salt 48 / trailer 1 algorithm identifier exactly as AMD
/// encodes it (explicit NULL hash parameters and an explicit trailerField).
pub fn alg_rsa_pss_sha384() -> AlgorithmIdentifierOwned {
    // [0] { SEQ { sha384, NULL } } [1] { SEQ { mgf1, SEQ { sha384, NULL } } } [2] { 48 } [3] { 1 }
    const PARAMS: [u8; 59] = [
        0x30, 0x39, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
        0x02, 0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
        0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
        0x02, 0x02, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x30, 0xa3, 0x03, 0x02, 0x01, 0x01,
    ];
    AlgorithmIdentifierOwned {
        oid: oids::RSASSA_PSS,
        parameters: Any::from_der(&PARAMS).ok(),
    }
}

/// ecdsa-with-SHA256 (no parameters).
pub fn alg_ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oids::ECDSA_SHA256,
        parameters: None,
    }
}

/// ecdsa-with-SHA384 (no parameters).
pub fn alg_ecdsa_sha384() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oids::ECDSA_SHA384,
        parameters: None,
    }
}

/// What a certificate says, before it is signed.
#[derive(Clone, Debug)]
pub struct CertSpec {
    /// Serial number as big-endian unsigned bytes (`[0]` for AMD's VCEK serial 0).
    pub serial: Vec<u8>,
    /// Issuer name.
    pub issuer: Name,
    /// Subject name.
    pub subject: Name,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// Extensions, in order.
    pub extensions: Vec<Extension>,
    /// Signature algorithm (also written in the TBS).
    pub sig_alg: AlgorithmIdentifierOwned,
}

/// Builds and signs a certificate; `sign` receives the TBS DER and returns the signature value bytes
/// (DER `Ecdsa-Sig-Value` for ECDSA, the RSA signature for RSA). Returns the certificate DER.
pub fn build_cert(
    spec: &CertSpec,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<Vec<u8>, X509Error> {
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&spec.serial)?,
        signature: spec.sig_alg.clone(),
        issuer: spec.issuer.clone(),
        validity: Validity {
            not_before: time(spec.not_before)?,
            not_after: time(spec.not_after)?,
        },
        subject: spec.subject.clone(),
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&spec.spki_der)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: if spec.extensions.is_empty() {
            None
        } else {
            Some(spec.extensions.clone())
        },
    };
    let tbs_der = tbs.to_der()?;
    let sig = sign(&tbs_der);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: spec.sig_alg.clone(),
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(cert.to_der()?)
}

/// One revoked certificate of a CRL.
#[derive(Clone, Debug)]
pub struct Revoked {
    /// Serial number, big-endian unsigned bytes.
    pub serial: Vec<u8>,
    /// Revocation date, Unix seconds.
    pub date: i64,
}

/// What a CRL says, before it is signed.
#[derive(Clone, Debug)]
pub struct CrlSpec {
    /// Issuer name.
    pub issuer: Name,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// Revoked certificates.
    pub revoked: Vec<Revoked>,
    /// CRL extensions (cRLNumber, AKI, ...).
    pub extensions: Vec<Extension>,
    /// Signature algorithm.
    pub sig_alg: AlgorithmIdentifierOwned,
}

/// Builds and signs a v2 CRL; returns its DER.
pub fn build_crl(
    spec: &CrlSpec,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<Vec<u8>, X509Error> {
    use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
    let revoked: Vec<RevokedCert> = spec
        .revoked
        .iter()
        .map(|r| {
            Ok(RevokedCert {
                serial_number: SerialNumber::new(&r.serial)?,
                revocation_date: time(r.date)?,
                crl_entry_extensions: None,
            })
        })
        .collect::<Result<_, X509Error>>()?;
    let tbs = TbsCertList {
        version: Version::V2,
        signature: spec.sig_alg.clone(),
        issuer: spec.issuer.clone(),
        this_update: time(spec.this_update)?,
        next_update: Some(time(spec.next_update)?),
        revoked_certificates: if revoked.is_empty() {
            None
        } else {
            Some(revoked)
        },
        crl_extensions: if spec.extensions.is_empty() {
            None
        } else {
            Some(spec.extensions.clone())
        },
    };
    let tbs_der = tbs.to_der()?;
    let sig = sign(&tbs_der);
    let crl = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: spec.sig_alg.clone(),
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(crl.to_der()?)
}

/// A signed DER object split into its raw parts: the TBS bytes exactly as they appear, the outer
/// signature algorithm and the signature value bytes.
#[derive(Clone, Debug)]
pub struct Signed<'a> {
    /// The raw to-be-signed TLV.
    pub tbs: &'a [u8],
    /// The signature algorithm.
    pub alg: AlgorithmIdentifierOwned,
    /// The signature value (content of the BIT STRING, without the unused-bits byte).
    pub signature: Vec<u8>,
}

/// Splits a certificate or CRL (SEQUENCE { tbs, algorithm, BIT STRING }) without re-encoding the TBS.
pub fn split_signed(der_bytes: &[u8]) -> Result<Signed<'_>, X509Error> {
    let mut outer = SliceReader::new(der_bytes)?;
    let header = Header::decode(&mut outer)?;
    if header.tag != Tag::Sequence {
        return Err(X509Error::Der(format!(
            "expected SEQUENCE, found {}",
            header.tag
        )));
    }
    let start = usize::try_from(u32::from(outer.position())).unwrap_or(0);
    let len = usize::try_from(u32::from(header.length)).unwrap_or(0);
    let body = der_bytes
        .get(start..start + len)
        .ok_or_else(|| X509Error::Der("truncated".into()))?;
    if start + len != der_bytes.len() {
        return Err(X509Error::Der(format!(
            "{} trailing bytes",
            der_bytes.len() - start - len
        )));
    }
    let mut r = SliceReader::new(body)?;
    let tbs_header = Header::decode(&mut r)?;
    let tbs_len = usize::try_from(u32::from(tbs_header.encoded_len()?)).unwrap_or(0)
        + usize::try_from(u32::from(tbs_header.length)).unwrap_or(0);
    let tbs = body
        .get(..tbs_len)
        .ok_or_else(|| X509Error::Der("truncated TBS".into()))?;
    let mut r = SliceReader::new(&body[tbs_len..])?;
    let alg: AlgorithmIdentifierOwned = r.decode()?;
    let sig: BitString = r.decode()?;
    r.finish(())?;
    Ok(Signed {
        tbs,
        alg,
        signature: sig.raw_bytes().to_vec(),
    })
}

/// Verifies `signature` over `message` with `alg`, under the key `issuer`.
pub fn verify_signature(
    message: &[u8],
    alg: &AlgorithmIdentifierOwned,
    signature: &[u8],
    issuer: &SubjectPublicKeyInfoOwned,
) -> Result<(), X509Error> {
    use signature::Verifier;
    let key_bits = issuer.subject_public_key.raw_bytes();
    match alg.oid {
        o if o == oids::RSASSA_PSS => {
            let hash = pss_hash(alg)?;
            let key = rsa_key(issuer)?;
            let ok = if hash == oids::SHA384 {
                let vk = rsa::pss::VerifyingKey::<Sha384>::new(key);
                let sig = rsa::pss::Signature::try_from(signature)
                    .map_err(|e| X509Error::BadSignature(e.to_string()))?;
                vk.verify(message, &sig).is_ok()
            } else if hash == oids::SHA256 {
                let vk = rsa::pss::VerifyingKey::<Sha256>::new(key);
                let sig = rsa::pss::Signature::try_from(signature)
                    .map_err(|e| X509Error::BadSignature(e.to_string()))?;
                vk.verify(message, &sig).is_ok()
            } else {
                return Err(X509Error::UnsupportedAlgorithm(format!(
                    "RSASSA-PSS with hash {hash}"
                )));
            };
            if ok {
                Ok(())
            } else {
                Err(X509Error::BadSignature("RSASSA-PSS".into()))
            }
        }
        o if o == oids::SHA256_WITH_RSA || o == oids::SHA384_WITH_RSA => {
            let key = rsa_key(issuer)?;
            let sig = rsa::pkcs1v15::Signature::try_from(signature)
                .map_err(|e| X509Error::BadSignature(e.to_string()))?;
            let ok = if o == oids::SHA256_WITH_RSA {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                    .verify(message, &sig)
                    .is_ok()
            } else {
                rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key)
                    .verify(message, &sig)
                    .is_ok()
            };
            if ok {
                Ok(())
            } else {
                Err(X509Error::BadSignature("RSA PKCS#1 v1.5".into()))
            }
        }
        o if o == oids::ECDSA_SHA256 || o == oids::ECDSA_SHA384 => {
            let curve = issuer
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| X509Error::BadKey("EC key without a named curve".into()))?;
            let ok = if curve == oids::P256 {
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bits)
                    .map_err(|e| X509Error::BadKey(e.to_string()))?;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|e| X509Error::BadSignature(e.to_string()))?;
                if o == oids::ECDSA_SHA256 {
                    vk.verify(message, &sig).is_ok()
                } else {
                    use signature::hazmat::PrehashVerifier;
                    vk.verify_prehash(&Sha384::digest(message), &sig).is_ok()
                }
            } else if curve == oids::P384 {
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bits)
                    .map_err(|e| X509Error::BadKey(e.to_string()))?;
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|e| X509Error::BadSignature(e.to_string()))?;
                if o == oids::ECDSA_SHA384 {
                    vk.verify(message, &sig).is_ok()
                } else {
                    use signature::hazmat::PrehashVerifier;
                    vk.verify_prehash(&Sha256::digest(message), &sig).is_ok()
                }
            } else {
                return Err(X509Error::BadKey(format!("unsupported curve {curve}")));
            };
            if ok {
                Ok(())
            } else {
                Err(X509Error::BadSignature("ECDSA".into()))
            }
        }
        other => Err(X509Error::UnsupportedAlgorithm(other.to_string())),
    }
}

/// Verifies a DER certificate or CRL (`signed`) under `issuer`, over its raw TBS bytes.
pub fn verify_signed(
    signed_der: &[u8],
    issuer: &SubjectPublicKeyInfoOwned,
) -> Result<(), X509Error> {
    let s = split_signed(signed_der)?;
    verify_signature(s.tbs, &s.alg, &s.signature, issuer)
}

/// [`verify_signed`] with a process-wide memo of successes, keyed by SHA-256 of the signed object and
/// the issuer key: CA certificates (ARK, ASK, Intel and NVIDIA CAs) are verified once per process, not
/// once per report. Failures are never cached.
pub fn verify_signed_cached(
    signed_der: &[u8],
    issuer: &SubjectPublicKeyInfoOwned,
) -> Result<(), X509Error> {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static VERIFIED: OnceLock<Mutex<HashSet<[u8; 32]>>> = OnceLock::new();
    let mut h = Sha256::new();
    h.update(signed_der);
    h.update(issuer.to_der()?);
    let key: [u8; 32] = h.finalize().into();
    let memo = VERIFIED.get_or_init(|| Mutex::new(HashSet::new()));
    if memo.lock().map(|m| m.contains(&key)).unwrap_or(false) {
        return Ok(());
    }
    verify_signed(signed_der, issuer)?;
    if let Ok(mut m) = memo.lock() {
        m.insert(key);
    }
    Ok(())
}

fn rsa_key(spki: &SubjectPublicKeyInfoOwned) -> Result<rsa::RsaPublicKey, X509Error> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    rsa::RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
        .map_err(|e| X509Error::BadKey(e.to_string()))
}

fn pss_hash(alg: &AlgorithmIdentifierOwned) -> Result<ObjectIdentifier, X509Error> {
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] ..., maskGenAlgorithm [1] ..., saltLength [2] ..., trailerField [3] ... }
    let Some(params) = &alg.parameters else {
        return Ok(const_oid::db::rfc5912::ID_SHA_1);
    };
    let bytes = params.to_der()?;
    let mut r = SliceReader::new(&bytes)?;
    let h = Header::decode(&mut r)?;
    if h.tag != Tag::Sequence {
        return Err(X509Error::Der("RSASSA-PSS params not a SEQUENCE".into()));
    }
    if r.is_finished() {
        return Ok(const_oid::db::rfc5912::ID_SHA_1);
    }
    let first = Header::decode(&mut r)?;
    if first.tag.octet() != 0xa0 {
        return Ok(const_oid::db::rfc5912::ID_SHA_1);
    }
    let hash: AlgorithmIdentifierOwned = r.decode()?;
    Ok(hash.oid)
}

/// Parses one PEM certificate or a bundle; returns the DER of each certificate, in order.
pub fn pem_certs(text: &str) -> Result<Vec<Vec<u8>>, X509Error> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start..];
        let end_marker = "-----END CERTIFICATE-----";
        let end = after
            .find(end_marker)
            .ok_or_else(|| X509Error::Der("PEM: missing END CERTIFICATE".into()))?;
        let block = &after[..end + end_marker.len()];
        let (label, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| X509Error::Der(format!("PEM: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(X509Error::Der(format!("PEM: unexpected label {label}")));
        }
        out.push(der);
        rest = &after[end + end_marker.len()..];
    }
    Ok(out)
}

/// The DER of a certificate file given as DER or as PEM (the first certificate; text around the PEM
/// blocks, such as `# comment` lines, is ignored).
pub fn cert_der_from_bytes(bytes: &[u8]) -> Result<Vec<u8>, X509Error> {
    if bytes
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        let text =
            std::str::from_utf8(bytes).map_err(|_| X509Error::Der("PEM is not UTF-8".into()))?;
        return pem_certs(text)?
            .into_iter()
            .next()
            .ok_or_else(|| X509Error::Der("no certificate in PEM".into()));
    }
    Ok(bytes.to_vec())
}

/// The DER of a PEM block with `label` (e.g. `X509 CRL`), or the bytes themselves if they are not PEM.
pub fn der_from_pem_or_der(bytes: &[u8], label: &str) -> Result<Vec<u8>, X509Error> {
    let begin = format!("-----BEGIN {label}-----");
    let Some(start) = bytes
        .windows(begin.len())
        .position(|w| w == begin.as_bytes())
    else {
        return Ok(bytes.to_vec());
    };
    let text = std::str::from_utf8(&bytes[start..])
        .map_err(|_| X509Error::Der("PEM is not UTF-8".into()))?;
    let end_marker = format!("-----END {label}-----");
    let end = text
        .find(&end_marker)
        .ok_or_else(|| X509Error::Der(format!("PEM: missing {end_marker}")))?;
    let (_, der) = der::pem::decode_vec(&text.as_bytes()[..end + end_marker.len()])
        .map_err(|e| X509Error::Der(format!("PEM: {e}")))?;
    Ok(der)
}

/// Encodes DER as one PEM block with `label`.
pub fn to_pem(label: &str, der_bytes: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der_bytes).unwrap_or_default()
}

/// The certificate's SubjectPublicKeyInfo, decoded.
pub fn cert_spki(cert: &Certificate) -> SubjectPublicKeyInfoOwned {
    cert.tbs_certificate.subject_public_key_info.clone()
}

/// Finds an extension by OID.
pub fn find_ext<'a>(cert: &'a Certificate, oid: &ObjectIdentifier) -> Option<&'a Extension> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| &e.extn_id == oid)
}

/// Whether `t` lies within the certificate's validity period (inclusive).
pub fn valid_at(cert: &Certificate, t: i64) -> bool {
    let v = &cert.tbs_certificate.validity;
    unix(&v.not_before) <= t && t <= unix(&v.not_after)
}

/// The name rendered in the OpenSSL one-line order (`OU=..., C=..., CN=...`).
pub fn name_string(n: &Name) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_uint_uses_the_two_byte_form_from_128() {
        assert_eq!(der_uint(0), vec![2, 1, 0]);
        assert_eq!(der_uint(5), vec![2, 1, 5]);
        assert_eq!(der_uint(127), vec![2, 1, 0x7f]);
        assert_eq!(der_uint(219), vec![2, 2, 0, 0xdb]);
        assert_eq!(der_uint(0x1234), vec![2, 2, 0x12, 0x34]);
    }

    #[test]
    fn pss_algorithm_is_amds_encoding() {
        // Bytes 16..88 of a real KDS VCEK (go-sev-guest vcek.testcer): SEQUENCE { rsassaPss, params }.
        let amd = hex::decode(
            "304606092a864886f70d01010a3039a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d06096086480165030402020500a203020130a303020101",
        )
        .unwrap();
        assert_eq!(alg_rsa_pss_sha384().to_der().unwrap(), amd);
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        assert!(matches!(time(2_524_607_999).unwrap(), Time::UtcTime(_)));
        assert!(matches!(time(2_524_608_000).unwrap(), Time::GeneralTime(_)));
    }

    #[test]
    fn key_usage_matches_openssl_encoding() {
        // keyCertSign + cRLSign = 03 02 01 06
        assert_eq!(key_usage(&[5, 6]).unwrap(), vec![0x03, 0x02, 0x01, 0x06]);
        // digitalSignature only = 03 02 07 80
        assert_eq!(key_usage(&[0]).unwrap(), vec![0x03, 0x02, 0x07, 0x80]);
    }
}
