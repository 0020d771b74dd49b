//! The SNP verifier: raw bytes in, a [`Verdict`] out. It never re-serialises the report: the signature
//! is checked over the received bytes 0x000..0x2A0.
//!
//! Authenticity and structure are always checked; appraisal policy only when [`Policy`] asks.
//!
//! | rule ID | what |
//! |---|---|
//! | `SNP-REPORT-STRUCTURE` | size, version, SIGNATURE_ALGO, KEY_INFO, VMPL, reserved ranges ([`AttestationReport::parse`]) |
//! | `SNP-REPORT-POLICY-RESERVED` | POLICY bit 17 set, bits 63:26 zero |
//! | `SNP-REPORT-TCB-RESERVED` | reserved bytes of the four TCB fields are zero in the product's layout |
//! | `SNP-REPORT-CHIP-ID` | Turin CHIP_ID is 8 bytes then zeros |
//! | `SNP-REPORT-PLATFORM-INFO` | always passes; names unknown PLATFORM_INFO bits as information |
//! | `SNP-PRODUCT` | the product from `--product`, CPUID (v3+), the VEK's productName and the CA names agree |
//! | `SNP-CHAIN-ARK` | the ARK is self-signed (RSASSA-PSS) and a CA |
//! | `SNP-CHAIN-ASK` | the ASK/ASVK is signed by the ARK and a CA |
//! | `SNP-CHAIN-VEK` | the VCEK/VLEK is signed by the ASK/ASVK |
//! | `SNP-CHAIN-VALIDITY` | every certificate is valid at `now` |
//! | `SNP-CHAIN-REVOCATION` | the ASK/ASVK is not on the ARK's CRL (when a CRL is given) |
//! | `SNP-VEK-EXTENSIONS` | AMD's extensions decode and match the product (structVersion, productName) |
//! | `SNP-REPORT-SIGNER` | KEY_INFO.SIGNING_KEY names the kind of certificate given (and is not NONE) |
//! | `SNP-REPORT-SIGNATURE` | ECDSA P-384/SHA-384 over 0x000..0x2A0 with the VEK's key |
//! | `SNP-REPORT-TCB-MATCHES-VEK` | REPORTED_TCB equals the VEK's SPL extensions |
//! | `SNP-REPORT-HWID-MATCHES-VCEK` | CHIP_ID equals the VCEK's hwID (unless MASK_CHIP_ID zeroed it) |
//! | `SNP-POLICY-*` | opt-in appraisal: debug, minimum TCB, measurement, report data, host data, VMPL, ID/author key digests, PLATFORM_INFO bits |
//!
//! Without a VCEK/VLEK only the structure is checked; the checks that need it are listed in the
//! `skipped` claim. The command line (`cvmsim snp verify`) requires the certificate.

use der::Decode;
use sim_core::x509::{self, oids};
use sim_core::{Platform as Plat, Verdict};
use x509_cert::Certificate;

use crate::layout::policy::SigningKey;
use crate::layout::{GuestPolicy, PlatformInfo, TcbVersion};
use crate::pki::{read_vek_extensions, SIMULATED_MARK};
use crate::product::Product;
use crate::report::{AttestationReport, ReportVersion, TcbField};

/// The evidence to verify.
#[derive(Clone, Debug, Default)]
pub struct Evidence<'a> {
    /// The report bytes.
    pub report: &'a [u8],
    /// The VCEK or VLEK certificate, DER.
    pub vek: Option<&'a [u8]>,
    /// The ASK or ASVK certificate, DER.
    pub ask: Option<&'a [u8]>,
    /// The ARK certificate, DER (the trust anchor).
    pub ark: Option<&'a [u8]>,
    /// The ARK's CRL, DER.
    pub crl: Option<&'a [u8]>,
    /// The product, if known; else detected.
    pub product: Option<Product>,
}

/// Opt-in appraisal policy. Nothing is checked for a field left `None`/false.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Refuse reports whose guest policy allows debugging.
    pub deny_debug: bool,
    /// Minimum REPORTED_TCB, component-wise.
    pub min_tcb: Option<TcbVersion>,
    /// Expected MEASUREMENT.
    pub measurement: Option<[u8; 48]>,
    /// Expected REPORT_DATA.
    pub report_data: Option<[u8; 64]>,
    /// Expected HOST_DATA.
    pub host_data: Option<[u8; 32]>,
    /// Expected VMPL.
    pub vmpl: Option<u32>,
    /// Expected ID_KEY_DIGEST.
    pub id_key_digest: Option<[u8; 48]>,
    /// Expected AUTHOR_KEY_DIGEST.
    pub author_key_digest: Option<[u8; 48]>,
    /// PLATFORM_INFO bits that must be set (e.g. 0x20 ALIAS_CHECK_COMPLETE).
    pub platform_info_required: u64,
}

/// Verification time and options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Time at which certificates must be valid (Unix seconds).
    pub now: i64,
}

fn parse_cert(der_bytes: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der_bytes).map_err(|e| format!("not an X.509 certificate: {e}"))
}

fn cn(cert: &Certificate) -> String {
    name_attr(cert, oids::CN)
}

fn name_attr(cert: &Certificate, oid: const_oid::ObjectIdentifier) -> String {
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == oid {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    return s.as_str().to_string();
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    return s.as_str().to_string();
                }
            }
        }
    }
    String::new()
}

fn is_ca(cert: &Certificate) -> bool {
    x509::find_ext(cert, &oids::BASIC_CONSTRAINTS)
        .and_then(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
        })
        .is_some_and(|bc| bc.ca)
}

/// Which root an ARK is: AMD's real one, this project's simulated one, or unknown.
pub fn root_kind(ark: &Certificate) -> &'static str {
    if name_attr(ark, crate::pki::DESCRIPTION) == SIMULATED_MARK {
        "cvmsim-simulated"
    } else if name_attr(ark, oids::O) == "Advanced Micro Devices" && cn(ark).starts_with("ARK-") {
        "amd"
    } else {
        "unknown"
    }
}

/// Verifies `ev` under `policy` at `opts.now`.
pub fn verify(ev: &Evidence<'_>, policy: &Policy, opts: Options) -> Verdict {
    let mut v = Verdict::new(Plat::Snp);
    let report = match AttestationReport::parse(ev.report) {
        Ok(r) => {
            v.pass(
                "SNP-REPORT-STRUCTURE",
                format!("report version {}", r.raw.version.get()),
            );
            r
        }
        Err(e) => {
            v.fail("SNP-REPORT-STRUCTURE", e.to_string());
            return v;
        }
    };
    let raw = &report.raw;

    // Policy reserved bits.
    let pol = report.policy();
    if !pol.has(GuestPolicy::RESERVED_MBO) || pol.0 & GuestPolicy::RESERVED_MBZ != 0 {
        v.fail(
            "SNP-REPORT-POLICY-RESERVED",
            format!(
                "POLICY @0x008 = 0x{:x}: bit 17 must be 1 and bits 63:26 zero",
                pol.0
            ),
        );
    } else {
        v.pass(
            "SNP-REPORT-POLICY-RESERVED",
            format!("POLICY 0x{:x}", pol.0),
        );
    }
    let pi = report.platform_info();
    let unknown = pi.0 & !PlatformInfo::KNOWN;
    v.pass(
        "SNP-REPORT-PLATFORM-INFO",
        if unknown == 0 { format!("PLATFORM_INFO 0x{:x}", pi.0) } else { format!("PLATFORM_INFO 0x{:x}; bits not named by the spec (information only): 0x{unknown:x}", pi.0) },
    );

    // Certificates.
    let vek = ev.vek.map(parse_cert);
    let ask = ev.ask.map(parse_cert);
    let ark = ev.ark.map(parse_cert);
    let vek_ext = match &vek {
        Some(Ok(c)) => Some(read_vek_extensions(c)),
        _ => None,
    };

    // Product.
    let cpuid = report.cpuid_product();
    let from_vek = vek_ext
        .as_ref()
        .and_then(|e| e.product_name.as_deref())
        .and_then(|n| Product::parse(n.split('-').next().unwrap_or(n)));
    let from_ark = match &ark {
        Some(Ok(c)) => cn(c).strip_prefix("ARK-").and_then(Product::parse),
        _ => None,
    };
    let product = ev
        .product
        .or(cpuid)
        .or(from_vek)
        .or(from_ark)
        .or_else(|| report.guess_product());
    let mut disagreements = Vec::new();
    for (name, p) in [
        ("CPUID", cpuid),
        ("VEK productName", from_vek),
        ("ARK name", from_ark),
    ] {
        if let (Some(p), Some(want)) = (p, product) {
            if p != want {
                disagreements.push(format!("{name} says {p}"));
            }
        }
    }
    if report.version != ReportVersion::V2 && cpuid.is_none() {
        disagreements.push(format!(
            "CPUID family 0x{:02x} model 0x{:02x} @0x188 is not a known SNP product",
            raw.cpuid_fam_id, raw.cpuid_mod_id
        ));
    }
    let Some(product) = product else {
        v.fail(
            "SNP-PRODUCT",
            "product unknown: give --product (a v2 report without a VCEK does not say)",
        );
        return v;
    };
    if disagreements.is_empty() {
        v.pass("SNP-PRODUCT", format!("{product}"));
    } else {
        v.fail(
            "SNP-PRODUCT",
            format!("product {product}, but {}", disagreements.join("; ")),
        );
    }
    v.claim("product", product.name());

    // Product-dependent structure.
    let layout = product.tcb_layout();
    let mut tcb_errors = Vec::new();
    for f in [
        TcbField::Current,
        TcbField::Reported,
        TcbField::Committed,
        TcbField::Launch,
    ] {
        let (name, off) = f.name_offset();
        if let Err(e) = TcbVersion::check_reserved(report.tcb_u64(f).to_le_bytes(), layout) {
            tcb_errors.push(format!("{name} @0x{:03x}: {e}", off + e.index));
        }
    }
    if tcb_errors.is_empty() {
        v.pass("SNP-REPORT-TCB-RESERVED", format!("{product} layout"));
    } else {
        v.fail("SNP-REPORT-TCB-RESERVED", tcb_errors.join("; "));
    }
    if product == Product::Turin {
        match raw.chip_id[8..].iter().position(|b| *b != 0) {
            None => v.pass("SNP-REPORT-CHIP-ID", "Turin CHIP_ID: 8 bytes then zeros"),
            Some(i) => v.fail(
                "SNP-REPORT-CHIP-ID",
                format!("Turin CHIP_ID byte @0x{:03x} is not zero", 0x1A0 + 8 + i),
            ),
        }
    }

    // Chain.
    let mut vek_key = None;
    let mut vek_is_vlek = false;
    match (&ark, &ask, &vek) {
        (Some(Ok(ark_c)), Some(Ok(ask_c)), Some(Ok(vek_c))) => {
            v.claim("root", root_kind(ark_c));
            let ark_spki = x509::cert_spki(ark_c);
            let ark_raw = ev.ark.unwrap_or_default();
            match x509::verify_signed_cached(ark_raw, &ark_spki) {
                Ok(()) if is_ca(ark_c) => v.pass(
                    "SNP-CHAIN-ARK",
                    format!("{} is self-signed and a CA", cn(ark_c)),
                ),
                Ok(()) => v.fail(
                    "SNP-CHAIN-ARK",
                    format!("{} lacks BasicConstraints cA", cn(ark_c)),
                ),
                Err(e) => v.fail("SNP-CHAIN-ARK", format!("{}: {e}", cn(ark_c))),
            }
            match x509::verify_signed_cached(ev.ask.unwrap_or_default(), &ark_spki) {
                Ok(()) if is_ca(ask_c) => v.pass(
                    "SNP-CHAIN-ASK",
                    format!("{} is signed by {}", cn(ask_c), cn(ark_c)),
                ),
                Ok(()) => v.fail(
                    "SNP-CHAIN-ASK",
                    format!("{} lacks BasicConstraints cA", cn(ask_c)),
                ),
                Err(e) => v.fail(
                    "SNP-CHAIN-ASK",
                    format!("{} under {}: {e}", cn(ask_c), cn(ark_c)),
                ),
            }
            match x509::verify_signed(ev.vek.unwrap_or_default(), &x509::cert_spki(ask_c)) {
                Ok(()) => v.pass(
                    "SNP-CHAIN-VEK",
                    format!("{} is signed by {}", cn(vek_c), cn(ask_c)),
                ),
                Err(e) => v.fail(
                    "SNP-CHAIN-VEK",
                    format!("{} under {}: {e}", cn(vek_c), cn(ask_c)),
                ),
            }
            let expired: Vec<String> = [(ark_c, "ARK"), (ask_c, "ASK"), (vek_c, "VEK")]
                .iter()
                .filter(|(c, _)| !x509::valid_at(c, opts.now))
                .map(|(c, n)| {
                    let val = &c.tbs_certificate.validity;
                    format!(
                        "{n} {} valid {} to {}",
                        cn(c),
                        val.not_before,
                        val.not_after
                    )
                })
                .collect();
            if expired.is_empty() {
                v.pass(
                    "SNP-CHAIN-VALIDITY",
                    format!(
                        "all certificates valid at {}",
                        sim_core::time::to_rfc3339(opts.now)
                    ),
                );
            } else {
                v.fail(
                    "SNP-CHAIN-VALIDITY",
                    format!(
                        "not valid at {}: {}",
                        sim_core::time::to_rfc3339(opts.now),
                        expired.join("; ")
                    ),
                );
            }
            if let Some(crl) = ev.crl {
                match check_crl(crl, ark_c, ev.ark.unwrap_or_default(), ask_c, opts.now) {
                    Ok(d) => v.pass("SNP-CHAIN-REVOCATION", d),
                    Err(d) => v.fail("SNP-CHAIN-REVOCATION", d),
                }
            }
            vek_is_vlek =
                cn(vek_c) == "SEV-VLEK" || vek_ext.as_ref().is_some_and(|e| e.csp_id.is_some());
            vek_key = p384::PublicKey::from_sec1_bytes(
                vek_c
                    .tbs_certificate
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes(),
            )
            .ok();
            if vek_key.is_none() {
                v.fail("SNP-CHAIN-VEK", "the VEK's key is not a P-384 point");
            }
        }
        (_, _, None) => {
            // Nothing to check the signature with: the structure checks stand alone, and the checks
            // that need a certificate are reported as skipped, not failed (cli.md `verify DIR`).
            v.claim(
                "skipped",
                serde_json::json!([
                    "SNP-CHAIN-ARK",
                    "SNP-CHAIN-ASK",
                    "SNP-CHAIN-VEK",
                    "SNP-REPORT-SIGNATURE",
                    "SNP-REPORT-TCB-MATCHES-VEK"
                ]),
            );
        }
        _ => {
            for (name, c) in [("ARK", &ark), ("ASK", &ask), ("VEK", &vek)] {
                match c {
                    None => v.fail("SNP-CHAIN-VEK", format!("{name} certificate missing")),
                    Some(Err(e)) => v.fail("SNP-CHAIN-VEK", format!("{name}: {e}")),
                    Some(Ok(_)) => {}
                }
            }
        }
    }

    // Extensions.
    if let Some(ext) = &vek_ext {
        let mut problems = ext.errors.clone();
        let want_sv = u64::from(product.vcek_struct_version());
        if ext.struct_version != Some(want_sv) {
            problems.push(format!(
                "structVersion {:?}, {product} uses {want_sv}",
                ext.struct_version
            ));
        }
        if ext
            .product_name
            .as_deref()
            .is_some_and(|n| Product::parse(n.split('-').next().unwrap_or(n)) != Some(product))
        {
            problems.push(format!(
                "productName {:?} is not {product}",
                ext.product_name
            ));
        }
        if product == Product::Turin && ext.tcb.fmc.is_none() {
            problems.push("Turin VEK without fmcSPL".into());
        }
        if problems.is_empty() {
            v.pass(
                "SNP-VEK-EXTENSIONS",
                format!(
                    "structVersion {want_sv}, productName {:?}, TCB {}",
                    ext.product_name.as_deref().unwrap_or(""),
                    ext.tcb
                ),
            );
        } else {
            v.fail("SNP-VEK-EXTENSIONS", problems.join("; "));
        }
    }

    // Signer and signature.
    let signer = report.key_info().signing_key();
    let signer_ok = match (signer, vek.is_some()) {
        (SigningKey::Vcek, _) => !vek_is_vlek,
        (SigningKey::Vlek, _) => vek_is_vlek,
        _ => false,
    };
    let signer_name = match signer {
        SigningKey::Vcek => "VCEK",
        SigningKey::Vlek => "VLEK",
        SigningKey::None => "NONE (unsigned report)",
        SigningKey::Reserved(_) => "reserved",
    };
    v.claim("signer", signer_name);
    if vek.is_some() {
        v.check(
            "SNP-REPORT-SIGNER",
            signer_ok,
            format!(
                "KEY_INFO @0x048 SIGNING_KEY = {signer_name}; certificate is a {}",
                if vek_is_vlek { "VLEK" } else { "VCEK" }
            ),
        );
    }
    if let Some(key) = &vek_key {
        let vk = p384::ecdsa::VerifyingKey::from(key);
        let ok = crate::keys::verify_amd(
            &vk,
            &ev.report[..crate::layout::report::SIGNED_LEN],
            &raw.signature,
        );
        v.check(
            "SNP-REPORT-SIGNATURE",
            ok,
            if ok {
                "ECDSA P-384 SHA-384 over 0x000-0x29F verifies".to_string()
            } else {
                "signature @0x2A0 does not verify over 0x000-0x29F".to_string()
            },
        );
    }

    // TCB and hwID against the VEK.
    let reported = report.tcb(TcbField::Reported, product);
    if let Some(ext) = &vek_ext {
        let mut cert_tcb = ext.tcb;
        if product != Product::Turin {
            cert_tcb.fmc = None;
        }
        let mut rep = reported;
        if product != Product::Turin {
            rep.fmc = None;
        }
        v.check(
            "SNP-REPORT-TCB-MATCHES-VEK",
            cert_tcb == rep,
            format!("REPORTED_TCB @0x180 {rep} vs certificate {cert_tcb}"),
        );
        if !vek_is_vlek {
            let chip = report.hwid(product);
            match &ext.hwid {
                _ if raw.chip_id.iter().all(|b| *b == 0) => v.pass(
                    "SNP-REPORT-HWID-MATCHES-VCEK",
                    "CHIP_ID masked (all zero): not compared",
                ),
                Some(h) if h.as_slice() == chip => v.pass(
                    "SNP-REPORT-HWID-MATCHES-VCEK",
                    format!("hwID {}", hex::encode(&h[..8.min(h.len())])),
                ),
                Some(h) => v.fail(
                    "SNP-REPORT-HWID-MATCHES-VCEK",
                    format!(
                        "CHIP_ID @0x1A0 {}… vs hwID {}… ({} bytes)",
                        hex::encode(&chip[..8]),
                        hex::encode(&h[..8.min(h.len())]),
                        h.len()
                    ),
                ),
                None => v.fail("SNP-REPORT-HWID-MATCHES-VCEK", "VCEK has no hwID extension"),
            }
        }
    }

    // Policy.
    if policy.deny_debug {
        v.check(
            "SNP-POLICY-DEBUG",
            !pol.debug(),
            format!("POLICY.DEBUG = {}", pol.debug()),
        );
    }
    if let Some(min) = &policy.min_tcb {
        v.check(
            "SNP-POLICY-MIN-TCB",
            min.le(&reported),
            format!("REPORTED_TCB {reported} vs minimum {min}"),
        );
    }
    if let Some(m) = &policy.measurement {
        v.check(
            "SNP-POLICY-MEASUREMENT",
            &raw.measurement == m,
            format!("MEASUREMENT {}", hex::encode(raw.measurement)),
        );
    }
    if let Some(d) = &policy.report_data {
        v.check(
            "SNP-POLICY-REPORT-DATA",
            &raw.report_data == d,
            format!("REPORT_DATA {}", hex::encode(raw.report_data)),
        );
    }
    if let Some(d) = &policy.host_data {
        v.check(
            "SNP-POLICY-HOST-DATA",
            &raw.host_data == d,
            format!("HOST_DATA {}", hex::encode(raw.host_data)),
        );
    }
    if let Some(want) = policy.vmpl {
        v.check(
            "SNP-POLICY-VMPL",
            raw.vmpl.get() == want,
            format!("VMPL {} (expected {want})", raw.vmpl.get()),
        );
    }
    if let Some(d) = &policy.id_key_digest {
        v.check(
            "SNP-POLICY-ID-KEY-DIGEST",
            &raw.id_key_digest == d,
            format!("ID_KEY_DIGEST {}", hex::encode(raw.id_key_digest)),
        );
    }
    if let Some(d) = &policy.author_key_digest {
        v.check(
            "SNP-POLICY-AUTHOR-KEY-DIGEST",
            &raw.author_key_digest == d,
            format!("AUTHOR_KEY_DIGEST {}", hex::encode(raw.author_key_digest)),
        );
    }
    if policy.platform_info_required != 0 {
        let missing = policy.platform_info_required & !pi.0;
        v.check(
            "SNP-POLICY-PLATFORM-INFO",
            missing == 0,
            format!(
                "PLATFORM_INFO 0x{:x}, required 0x{:x}{}",
                pi.0,
                policy.platform_info_required,
                if missing == 0 {
                    String::new()
                } else {
                    format!(", missing 0x{missing:x}")
                }
            ),
        );
    }

    v.claim("version", raw.version.get());
    v.claim("measurement", hex::encode(raw.measurement));
    v.claim("report_data", hex::encode(raw.report_data));
    v.claim("host_data", hex::encode(raw.host_data));
    v.claim("policy", format!("0x{:x}", pol.0));
    v.claim("debug", pol.debug());
    v.claim("vmpl", raw.vmpl.get());
    v.claim("reported_tcb", reported.to_string());
    v.claim("chip_id", hex::encode(raw.chip_id));
    v.claim("platform_info", format!("0x{:x}", pi.0));
    v.finish();
    v
}

fn check_crl(
    crl: &[u8],
    ark: &Certificate,
    ark_raw: &[u8],
    ask: &Certificate,
    now: i64,
) -> Result<String, String> {
    let _ = ark_raw;
    let list = x509_cert::crl::CertificateList::from_der(crl).map_err(|e| format!("CRL: {e}"))?;
    x509::verify_signed(crl, &x509::cert_spki(ark))
        .map_err(|e| format!("CRL signature under {}: {e}", cn(ark)))?;
    let tbs = &list.tbs_cert_list;
    if x509::unix(&tbs.this_update) > now
        || tbs
            .next_update
            .as_ref()
            .is_some_and(|n| x509::unix(n) < now)
    {
        return Err(format!(
            "CRL not current at {}",
            sim_core::time::to_rfc3339(now)
        ));
    }
    let serial = &ask.tbs_certificate.serial_number;
    if tbs
        .revoked_certificates
        .as_ref()
        .is_some_and(|r| r.iter().any(|rc| &rc.serial_number == serial))
    {
        return Err(format!("{} (serial {serial}) is revoked", cn(ask)));
    }
    Ok(format!("{} not revoked", cn(ask)))
}

/// The DER certificates of a PEM chain bundle: the VEK if the bundle starts with one, the ASK and the ARK.
pub type ChainDer = (Option<Vec<u8>>, Vec<u8>, Vec<u8>);

/// Splits a PEM bundle of an AMD chain: (VEK, ASK, ARK) from `VCEK, ASK, ARK` or (None, ASK, ARK)
/// from `ASK, ARK` (the KDS `cert_chain` order).
pub fn split_chain_pem(pem: &str) -> Result<ChainDer, String> {
    let certs = x509::pem_certs(pem).map_err(|e| e.to_string())?;
    match certs.len() {
        2 => {
            let mut it = certs.into_iter();
            let ask = it.next().unwrap_or_default();
            let ark = it.next().unwrap_or_default();
            Ok((None, ask, ark))
        }
        3 => {
            let mut it = certs.into_iter();
            let vek = it.next();
            let ask = it.next().unwrap_or_default();
            let ark = it.next().unwrap_or_default();
            Ok((vek, ask, ark))
        }
        n => Err(format!(
            "chain has {n} certificates; expected ASK, ARK or VEK, ASK, ARK"
        )),
    }
}
